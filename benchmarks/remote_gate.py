"""A staging gate over a network: `crm-contract run` against the reference server 0, 20, 50 and 100 ms away.

The reference server runs in a process of its own (`crm-contract serve`); a loopback proxy
(`crm_contract.hosting.fault_proxy.FaultProxy` with `delay`) adds the round trip to every request.
For every delay and every `--workers` count the script runs `crm-contract run --base-url PROXY` with
the defaults of a staging run (contract profile documented, Hypothesis profile dev) and a fixed seed,
and reports its wall time, its exit code, the requests report.json counts and the proxy counted, the
TCP connections, and the requests that came while no other was in flight.

Then, at the delays of `--raw-at` (0 ms by default), a raw httpx loop sends the same number of requests
as the single-process run (an assert and a read of the record it answered, in turn) through the same
proxy to the same server, one after another on one connection, in a process of its own: the suite's
time over the loop's is the kit's own cost per request. Prints a Markdown table.

    python benchmarks/remote_gate.py [--delays 0,20,50,100] [--workers 1,4,8] [--raw-at 0] [--check]

`--check` exits 1 unless the run at 50 ms with 8 workers passes within 60 s and the single-process run
at 0 ms takes at most twice the raw loop.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("crm-contract")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "crm_contract"]
TOKEN, READ_TOKEN = "remote-gate-write-token", "remote-gate-read-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve() -> tuple[subprocess.Popen[bytes], str]:
    """The reference server in a process of its own, and its base URL once it answers."""
    import httpx

    port = free_port()
    server = subprocess.Popen([*COMMAND, "serve", "--port", str(port), "--token", TOKEN, "--read-token", READ_TOKEN],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v2"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/crm/objects", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=1)
            return server, base
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the reference server did not start")


def suite(base: str, workers: int, seed: int, profile: str) -> dict[str, object]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ZEEG_", "CRM_CONTRACT_"))}
    env |= {"ZEEG_API_TOKEN": TOKEN, "ZEEG_API_READ_TOKEN": READ_TOKEN}
    with tempfile.TemporaryDirectory() as report:
        started = time.perf_counter()
        result = subprocess.run([*COMMAND, "run", "--base-url", base, "--hypothesis-profile", profile, "--seed",
                                 str(seed), "--workers", str(workers), "--progress", "no", "--report-dir", report],
                                env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        try:
            totals = json.loads((Path(report) / "report.json").read_text())["totals"]
        except (OSError, ValueError, KeyError):
            totals = {}
    last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or [""]
    return {"seconds": seconds, "exit": result.returncode, "reported": totals.get("requests"), "line": last[0],
            "tests": totals.get("tests")}


def raw_loop(base: str, count: int) -> float:
    """Seconds for `count` requests (assert, read, assert, ...) one after another, in a process of its own."""
    result = subprocess.run([sys.executable, __file__, "--raw-loop", base, str(count)], capture_output=True,
                            text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _raw_loop_main(base: str, count: int) -> None:
    from crm_contract.kit.target import Target

    # A plain httpx client as the kit makes them (no pace, no transcript, no checks): what the loop costs.
    with Target(base, TOKEN, timeout=30).client() as http:
        slug = f"raw-{uuid.uuid4().hex[:8]}"
        http.post("/crm/objects", json={"slug": slug, "singularName": "Raw", "pluralName": "Raws"}).raise_for_status()
        http.post(f"/crm/objects/{slug}/attributes", json={"label": "key", "type": "text", "isRequired": False,
                                                            "isUnique": True}).raise_for_status()
        started = time.perf_counter()
        record = ""
        for number in range(count):
            if number % 2 == 0:
                answer = http.put(f"/crm/{slug}", params={"matchingAttribute": "key"}, json={"key": f"k{number % 500}"})
                record = answer.json()["record"]["id"]
            else:
                http.get(f"/crm/{slug}/{record}")
        seconds = time.perf_counter() - started
        http.delete(f"/crm/objects/{slug}")
    print(seconds)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--raw-loop":
        _raw_loop_main(sys.argv[2], int(sys.argv[3]))
        return 0
    from crm_contract.hosting.fault_proxy import FaultProxy

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delays", default="0,20,50,100", help="round trips in ms (default 0,20,50,100)")
    parser.add_argument("--workers", default="1,4,8", help="worker counts (default 1,4,8)")
    parser.add_argument("--raw-at", default="0", help="delays at which the raw loop runs too (default 0)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hypothesis-profile", default="dev")
    parser.add_argument("--check", action="store_true", help="exit 1 unless the targets of the issue hold")
    args = parser.parse_args()
    delays = [int(value) for value in args.delays.split(",")]
    counts = [int(value) for value in args.workers.split(",")]
    raw_at = {int(value) for value in args.raw_at.split(",") if value}
    server, base = serve()
    rows, failures = [], []
    print(f"crm-contract run against the reference server behind a delay proxy ({os.cpu_count()} CPUs, "
          f"Hypothesis profile {args.hypothesis_profile}, seed {args.seed})", flush=True)
    print("| round trip | workers | wall time | exit | requests (report / proxy) | connections | alone | raw loop "
          "| suite / raw |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    try:
        for delay in delays:
            single: tuple[float, int] | None = None
            for workers in counts:
                with FaultProxy(base, {}, delay=delay / 1000) as proxy:
                    run = suite(proxy.url, workers, args.seed, args.hypothesis_profile)
                    sent = sum(proxy.counts.values())
                    connections, alone = proxy.connections, proxy.alone
                raw = ratio = ""
                if workers == 1:
                    single = (float(run["seconds"]), sent)  # type: ignore[arg-type]
                if workers == 1 and delay in raw_at:
                    with FaultProxy(base, {}, delay=delay / 1000) as proxy:
                        loop = raw_loop(proxy.url, sent)
                    raw, ratio = f"{loop:.1f} s", f"{float(run['seconds']) / loop:.2f}x"  # type: ignore[arg-type]
                    if args.check and delay == 0 and float(run["seconds"]) > 2 * loop:  # type: ignore[arg-type]
                        failures.append(f"at 0 ms one process took {float(run['seconds']) / loop:.2f}x the raw loop")
                if args.check and delay == 50 and workers == 8 and (run["exit"] != 0 or float(run["seconds"]) > 60):  # type: ignore[arg-type]
                    failures.append(f"at 50 ms 8 workers took {float(run['seconds']):.0f} s, exit {run['exit']}")  # type: ignore[arg-type]
                if run["exit"] != 0:
                    failures.append(f"{delay} ms, {workers} workers: exit {run['exit']}: {run['line']}")
                rows.append(run)
                print(f"| {delay} ms | {workers} | {float(run['seconds']):.1f} s | {run['exit']} | "  # type: ignore[arg-type]
                      f"{run['reported']} / {sent} | {connections} | {alone} | {raw} | {ratio} |", flush=True)
            del single
    finally:
        server.terminate()
        server.wait(10)
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
