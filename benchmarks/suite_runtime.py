"""Wall time of ``crm-contract run`` end to end: the whole suite against the embedded reference server.

Runs ``crm-contract run`` (default options unless given: contract profile strict, the dev Hypothesis
profile outside CI) ``--runs`` times, one after another, each in a fresh process with its own embedded
server, and prints each wall time, the verdict line and the median. The goal is under 60 s on this
project's 2-core machine; the exit status is 1 when the median exceeds ``--max-seconds`` or a run does
not pass (exit code 0), so the script can guard the figure in CI.

    python benchmarks/suite_runtime.py [--runs 3] [--max-seconds 60] [-- RUN OPTIONS]
    python benchmarks/suite_runtime.py --runs 1 --max-seconds 600 -- --hypothesis-profile thorough
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("crm-contract")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "crm_contract"]
VERDICT = re.compile(r"^=+ (.*\bin [0-9.]+s.*) =+$", re.MULTILINE)


def one_run(options: list[str]) -> tuple[float, int, str]:
    """Seconds of wall time, exit code, and pytest's final line (or the error) of one run."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTEST_BASE_URL", "ZEEG_API_TOKEN")}
    started = time.perf_counter()
    result = subprocess.run([*COMMAND, "run", *options], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=False)
    seconds = time.perf_counter() - started
    verdicts = VERDICT.findall(result.stdout)
    summary = verdicts[-1] if verdicts else (result.stderr.strip().splitlines() or ["no output"])[-1]
    requests = re.search(r"crm-contract: (\d+) requests sent", result.stdout)
    if requests:
        summary += f"; {requests.group(1)} requests"
    return seconds, result.returncode, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="how many runs (default 3)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="the most the median may take (60)")
    parser.add_argument("options", nargs="*", help="options for crm-contract run, after --")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    times = []
    failed = False
    print(f"crm-contract run {' '.join(args.options)} ({os.cpu_count()} CPUs)".replace("  ", " "), flush=True)
    for number in range(1, args.runs + 1):
        seconds, code, summary = one_run(args.options)
        times.append(seconds)
        failed = failed or code != 0
        print(f"  run {number}: {seconds:6.1f} s  exit {code}  {summary}", flush=True)
    median = statistics.median(times)
    print(f"  median {median:.1f} s over {args.runs} run(s); limit {args.max_seconds:g} s")
    if failed:
        print("FAIL: a run did not pass (exit code other than 0)")
        return 1
    if median > args.max_seconds:
        print(f"FAIL: the median {median:.1f} s is above {args.max_seconds:g} s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
