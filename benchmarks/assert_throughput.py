"""Assert (upsert) throughput of ``crm-contract serve``: asserts a second and latency percentiles.

Starts ``crm-contract serve`` as a subprocess on a free loopback port with a fixed token, creates an
object with a unique text attribute, then sends ``--count`` asserts (new values create, known values
update, mixed by ``--update-ratio``) from one ``httpx.Client`` (keep-alive), stopping early after
``--time-limit`` seconds. Every answer is checked: 201 for a new value, 200 and the same id for a known
one. The target is at least 1,000 asserts a second; ``--min-rate`` turns it into the exit status.

    python benchmarks/assert_throughput.py [--count 5000] [--db PATH] [--min-rate 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from crm_contract.kit.target import Target

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchmark-write-token"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: str | None, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "crm_contract", "serve", "--port", str(port), "--token", TOKEN]
    if db:
        command += ["--db", db]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=output)
    base_url = f"http://127.0.0.1:{port}/v2"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/crm/objects", headers={"Authorization": f"Bearer {TOKEN}"}).is_success:
                return process, base_url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"serve did not answer within 30 s:\n{log.read_text()}")


def make_object(http: httpx.Client) -> str:
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    body = {"slug": slug, "singularName": "Bench", "pluralName": "Benches"}
    http.post("/crm/objects", json=body).raise_for_status()
    for attribute in (
        {"label": "External id", "type": "text", "isRequired": True, "isUnique": True},
        {"label": "Note", "type": "text", "isRequired": False},
    ):
        http.post(f"/crm/objects/{slug}/attributes", json=attribute).raise_for_status()
    return slug


def run(
    http: httpx.Client, slug: str, count: int, update_ratio: float, time_limit: float, seed: int
) -> float:
    """Send the asserts, print the figures; the throughput in asserts a second."""
    rng = random.Random(seed)
    ids: dict[str, str] = {}
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    for n in range(count):
        known = bool(ids) and rng.random() < update_ratio
        key = f"ext-{rng.randrange(len(ids))}" if known else f"ext-{len(ids)}"
        body = {"external_id": key, "note": f"note {n}"}
        before = time.perf_counter()
        response = http.put(f"/crm/{slug}", params={"matchingAttribute": "external_id"}, json=body)
        latencies.append(time.perf_counter() - before)
        record_id = response.json()["record"]["id"] if response.is_success else None
        if response.status_code != (200 if known else 201) or ids.setdefault(key, record_id) != record_id:
            errors += 1
            if errors <= 3:
                print(
                    f"unexpected answer to {key!r}: {response.status_code} {response.text[:300]}",
                    file=sys.stderr,
                )
        if before - started > time_limit:
            print(f"stopped after {time_limit:g} s", file=sys.stderr)
            break
    elapsed = time.perf_counter() - started
    report(latencies, elapsed, creates=len(ids), errors=errors)
    return len(latencies) / elapsed


def report(latencies: list[float], elapsed: float, *, creates: int, errors: int) -> None:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    ms = {name: cuts[p - 1] * 1000 for name, p in (("p50", 50), ("p90", 90), ("p99", 99))}
    print(f"asserts          {len(latencies)} ({creates} creates, {len(latencies) - creates} updates)")
    print(f"elapsed          {elapsed:.2f} s")
    print(f"throughput       {len(latencies) / elapsed:,.0f} asserts/s")
    print(
        "latency (ms)     "
        + "  ".join(f"{k} {v:.2f}" for k, v in ms.items())
        + f"  max {max(latencies) * 1000:.2f}"
    )
    print(f"unexpected       {errors}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="asserts to send (default 5000)")
    parser.add_argument("--update-ratio", type=float, default=0.5, help="share of asserts of known values")
    parser.add_argument("--time-limit", type=float, default=60.0, help="stop sending after this many seconds")
    parser.add_argument("--db", metavar="PATH", help="serve with this SQLite file instead of memory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-rate", type=float, help="exit 1 below this many asserts a second")
    args = parser.parse_args(argv)
    if args.count < 2 or not 0 <= args.update_ratio <= 1:
        parser.error("--count must be at least 2 and --update-ratio between 0 and 1")
    with tempfile.TemporaryDirectory() as scratch:
        process, base_url = start_server(args.db, Path(scratch) / "serve.log")
        try:
            print(f"target           {base_url} ({'db ' + args.db if args.db else 'in memory'})")
            with Target(base_url, TOKEN, timeout=10).client() as http:
                slug = make_object(http)
                rate = run(http, slug, args.count, args.update_ratio, args.time_limit, args.seed)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    if args.min_rate is not None and rate < args.min_rate:
        print(f"below the minimum of {args.min_rate:,.0f} asserts/s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
