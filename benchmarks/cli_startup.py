"""How long `crm-contract --help` takes: the cost of starting the command before it does anything.

Runs `crm-contract --help` (or the command given after `--`) `--runs` times in fresh processes and prints
each wall time and the median. The goal is under 0.3 s on this project's 2-core machine; the exit
status is 1 when the median exceeds `--max-seconds`, so the script can guard the figure. `-X importtime`
on the same command shows which imports the time goes to.

    python benchmarks/cli_startup.py [--runs 10] [--max-seconds 0.3] [-- run --help]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("crm-contract")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "crm_contract"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=0.3)
    parser.add_argument("args", nargs="*", default=["--help"], help="the command's arguments (after --)")
    options = parser.parse_args()
    times = []
    for _ in range(options.runs):
        started = time.perf_counter()
        done = subprocess.run([*COMMAND, *options.args], capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            print(f"crm-contract {' '.join(options.args)} exited {done.returncode}", file=sys.stderr)
            return 2
    median = statistics.median(times)
    print(" ".join(f"{seconds:.3f}" for seconds in times))
    print(f"crm-contract {' '.join(options.args)}: median {median:.3f} s over {options.runs} runs "
          f"(goal under {options.max_seconds} s)")
    return 0 if median <= options.max_seconds else 1


if __name__ == "__main__":
    sys.exit(main())
