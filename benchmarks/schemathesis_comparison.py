"""Side by side: plain `schemathesis run` and our suite against the same faults, in one run.

For the correct reference server and each fault of the catalogue (or those given with --fault), both
tools run against a fresh server: schemathesis through its CLI with all checks and every phase
(examples, coverage, fuzzing, stateful) on `contract/openapi.yaml`, our suite as `crm-contract zoo`
runs it. Prints one row per target and the kill rate and total wall time of each tool.

Plain schemathesis fails even the correct server (the document cannot say which attribute keys an
object's records take, and `/crm/objects` overlaps `/crm/{objectSlug}`), so a fault counts as killed by
schemathesis only when it reports a failure (operation and check) that the correct server did not get.

    python benchmarks/schemathesis_comparison.py [--fault NAME ...] [--max-examples 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

from crm_contract.contract import OPENAPI_PATH
from crm_contract.reference_server import FAULTS

from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.runs.zoo import run_one

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def schemathesis_failures(fault: str | None, max_examples: int, seed: int) -> tuple[set[str], float]:
    """The (operation, check) failures plain schemathesis reports against the server with `fault`."""
    token = f"cmp-{secrets.token_hex(8)}"
    with EmbeddedServer(fault=fault, tokens={token: ("crm:read", "crm:write")}) as server:
        command = [SCHEMATHESIS, "run", str(OPENAPI_PATH), "--url", server.base_url,
                   "-H", f"Authorization: Bearer {token}", "--checks", "all",
                   "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(max_examples),
                   "--seed", str(seed), "--no-color"]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        seconds = time.monotonic() - started
    failures: set[str] = set()
    operation = ""
    for line in done.stdout.splitlines():
        if heading := re.fullmatch(r"_+ (\S+ \S+) _+", line.strip()):
            operation = heading.group(1)
        elif check := re.match(r"\s*- (ST\d+) ", line):
            failures.add(f"{operation} {check.group(1)}")
    if done.returncode != 0 and not failures:
        failures.add(f"exit {done.returncode}")
    return failures, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", action="append", default=[], help="only this fault (repeat it)")
    parser.add_argument("--max-examples", type=int, default=50, help="schemathesis examples per operation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hypothesis-profile", default="dev", help="our suite's profile")
    args = parser.parse_args()
    names = args.fault or sorted(FAULTS)
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)}")
    rows = []
    totals = {"schemathesis": 0.0, "suite": 0.0}
    print(f"{'target':34} {'rule':10} {'schemathesis':14} {'time':>7}  {'our suite':10} {'time':>7}", flush=True)
    baseline: set[str] = set()
    for fault in [None, *names]:
        rule = FAULTS[fault].rule if fault else "-"
        found, st_seconds = schemathesis_failures(fault, args.max_examples, args.seed)
        if fault is None:
            baseline = found
        st_failed = bool(found - baseline) if fault else bool(found)
        ours = run_one(fault, rule, hypothesis_profile=args.hypothesis_profile, seed=args.seed)
        totals["schemathesis"] += st_seconds
        totals["suite"] += ours.seconds
        if fault is None:
            st_word = f"{len(found)} false" if st_failed else "passed"
            our_word = "passed" if ours.verdict == "passed" else "FAILED"
        else:
            st_word = "killed" if st_failed else "survived"
            our_word = ours.verdict
        rows.append((fault, st_failed, ours.verdict == "killed"))
        print(f"{fault or '(correct server)':34} {rule:10} {st_word:14} {st_seconds:6.1f}s  {our_word:10} "
              f"{ours.seconds:6.1f}s", flush=True)
    faults = [row for row in rows if row[0] is not None]
    st_kills = sum(1 for row in faults if row[1])
    our_kills = sum(1 for row in faults if row[2])
    print(f"\nkill rate: schemathesis {st_kills}/{len(faults)} ({100 * st_kills / len(faults):.0f}%) in "
          f"{totals['schemathesis']:.0f} s; our suite {our_kills}/{len(faults)} "
          f"({100 * our_kills / len(faults):.0f}%) in {totals['suite']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
