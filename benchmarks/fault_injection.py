"""Does a flaky network ever make `crm-contract run` cry wolf? The suite through a fault-injecting proxy.

For each fault kind and rate, and each seed, the suite runs against the reference server behind
`crm_contract.hosting.fault_proxy.FaultProxy` (loopback), the way a user points it at staging (`--base-url`,
so the documented profile unless `--profile strict`). The table shows the exit code, the false
violations (failed tests: the server is correct, so every one is false), the inconclusive tests, and
the wall time against the fault-free run of the same seed.

With `--catalogue`, the server serves faults of the catalogue instead, behind 5 % lost answers: every
run must exit 1 and name the rule.

    python benchmarks/fault_injection.py                       # every kind at 1, 5, 20 %, seeds 1-3
    python benchmarks/fault_injection.py --kinds lost,429-retry-after --rates 5 --seeds 1
    python benchmarks/fault_injection.py --catalogue --seeds 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.hosting.fault_proxy import FAULT_KINDS, FaultProxy

WRITE, READ = "bench-write-token", "bench-read-token"
CATALOGUE = ("update_answers_201", "never_matches", "matching_ignores_case", "unique_not_enforced",
             "empty_matching_value_accepted")
TIMEOUT, HOLD = 1.0, 1.5  # the timeout kind: answers held past a 1 s client timeout


def run_once(kind: str | None, rate: float, seed: int, *, fault: str | None = None, profile: str | None = None,
             hypothesis_profile: str = "dev") -> dict[str, object]:
    tokens = {WRITE: ("crm:read", "crm:write"), READ: ("crm:read",)}
    faults = {kind: rate} if kind and rate else {}
    with EmbeddedServer(tokens=tokens, fault=fault) as server, \
            FaultProxy(server.base_url, faults, seed=seed, hold=HOLD) as proxy, \
            tempfile.TemporaryDirectory(prefix="crm-faults-") as scratch:
        command = [sys.executable, "-m", "crm_contract", "run", "--base-url", proxy.url, "--seed", str(seed),
                   "--hypothesis-profile", hypothesis_profile, "--report-dir", scratch,
                   "--request-timeout", str(TIMEOUT if kind == "timeout" else 15.0)]
        if profile:
            command += ["--profile", profile]
        env = {**os.environ, "ZEEG_API_TOKEN": WRITE, "ZEEG_API_READ_TOKEN": READ, "CRM_CONTRACT_PROGRESS": "no"}
        started = time.monotonic()
        finished = subprocess.run(command, env=env, capture_output=True, text=True, cwd=scratch, check=False)
        seconds = time.monotonic() - started
        failed, inconclusive, rules = 0, 0, set()
        report = Path(scratch) / "report.json"
        if report.is_file():
            data = json.loads(report.read_text())
            for test in data.get("tests", []):
                if test.get("outcome") == "fail":
                    failed += 1
                    rules.add((test.get("failure") or {}).get("clause") or "?")
                elif test.get("outcome") == "inconclusive":
                    inconclusive += 1
        return {"exit": finished.returncode, "failed": failed, "inconclusive": inconclusive, "seconds": seconds,
                "rules": sorted(rules), "injected": sum(v for k, v in proxy.counts.items() if k != "forwarded"),
                "tail": finished.stdout[-2000:] + finished.stderr[-2000:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(FAULT_KINDS))
    parser.add_argument("--rates", default="1,5,20", help="percent of requests")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--profile", choices=("documented", "strict"))
    parser.add_argument("--hypothesis-profile", default="dev")
    parser.add_argument("--catalogue", action="store_true", help="catalogue faults behind 5 %% lost answers")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    options = {"profile": args.profile, "hypothesis_profile": args.hypothesis_profile}
    bad = 0
    if args.catalogue:
        print(f"{'fault':32} {'seed':>4} {'exit':>4} {'rules failed':24} {'s':>6}")
        for fault in CATALOGUE:
            for seed in seeds:
                row = run_once("lost", 0.05, seed, fault=fault, **options)
                bad += row["exit"] != 1
                print(f"{fault:32} {seed:>4} {row['exit']:>4} {','.join(row['rules'])[:24]:24} "
                      f"{row['seconds']:>6.1f}", flush=True)
        print(f"runs that did not exit 1: {bad}")
        return 1 if bad else 0
    clean = {seed: run_once(None, 0.0, seed, **options) for seed in seeds}
    for seed, row in clean.items():
        print(f"fault-free seed {seed}: exit {row['exit']}, {row['seconds']:.1f} s", flush=True)
    print(f"{'kind':16} {'rate':>5} {'seed':>4} {'exit':>4} {'false viol.':>11} {'inconcl.':>8} {'injected':>8} "
          f"{'s':>6} {'x clean':>7}")
    for rate in (float(r) for r in args.rates.split(",")):
        for kind in args.kinds.split(","):
            for seed in seeds:
                row = run_once(kind, rate / 100, seed, **options)
                bad += row["exit"] == 1
                ratio = row["seconds"] / clean[seed]["seconds"]
                print(f"{kind:16} {rate:>4.0f}% {seed:>4} {row['exit']:>4} {row['failed']:>11} "
                      f"{row['inconclusive']:>8} {row['injected']:>8} {row['seconds']:>6.1f} {ratio:>6.1f}x",
                      flush=True)
                if row["exit"] == 1:
                    print(row["tail"], flush=True)
    print(f"runs that exited 1 (a false violation): {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
