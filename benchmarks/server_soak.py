"""A soak of ``crm-contract serve``: many asserts in a row, throughput and memory per window of them.

Starts ``crm-contract serve`` (on a database file unless ``--memory``) as assert_throughput.py does and
sends ``--count`` asserts from one keep-alive client, the bulk sync of the API page: mostly new values,
some known ones again. After every ``--window`` asserts it prints the window's throughput and the server's
resident memory (VmRSS). With ``--check`` it exits 1 when the last window is more than ``--max-slowdown``
slower than the first, or the server's memory grew by more than ``--max-growth-mb`` after the first window.

    python benchmarks/server_soak.py [--count 100000] [--window 10000] [--check]
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

from assert_throughput import TOKEN, make_object, start_server

from crm_contract.kit.target import Target


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def soak(base_url: str, pid: int, count: int, window: int, update_ratio: float, seed: int
         ) -> list[tuple[float, float]]:
    """(asserts a second, server RSS in MB) for each window; every answer is checked as it comes."""
    rng = random.Random(seed)
    ids: dict[str, str] = {}
    windows: list[tuple[float, float]] = []
    print(f"{'asserts':>9}  {'records':>8}  {'asserts/s':>9}  {'server RSS':>10}")
    with Target(base_url, TOKEN, timeout=30).client() as http:
        slug = make_object(http)
        started = time.perf_counter()
        for n in range(1, count + 1):
            known = bool(ids) and rng.random() < update_ratio
            key = f"ext-{rng.randrange(len(ids))}" if known else f"ext-{len(ids)}"
            answer = http.put(f"/crm/{slug}", params={"matchingAttribute": "external_id"},
                              json={"external_id": key, "note": f"note {n}"})
            expected = 200 if known else 201
            if answer.status_code != expected or ids.setdefault(key, answer.json()["record"]["id"]) != \
                    answer.json()["record"]["id"]:
                raise SystemExit(f"assert {n} of {key!r}: expected {expected} and the same id, got "
                                 f"{answer.status_code} {answer.text[:300]}")
            if n % window == 0:
                now = time.perf_counter()
                windows.append((window / (now - started), rss_mb(pid)))
                print(f"{n:>9,}  {len(ids):>8,}  {windows[-1][0]:>9,.0f}  {windows[-1][1]:>7.1f} MB", flush=True)
                started = time.perf_counter()
    return windows


def verdict(windows: list[tuple[float, float]], max_slowdown: float, max_growth_mb: float) -> list[str]:
    """What breaks the targets, in words; empty when the soak held."""
    if len(windows) < 2:
        return ["fewer than two windows: nothing to compare"]
    problems = []
    slowdown = 1 - windows[-1][0] / windows[0][0]
    growth = max(rss for _, rss in windows[1:]) - windows[0][1]
    print(f"slowdown         {slowdown:+.1%} (last window against the first; at most {max_slowdown:.0%})")
    print(f"memory growth    {growth:+.1f} MB after the first window (at most {max_growth_mb:g} MB)")
    if slowdown > max_slowdown:
        problems.append(f"the last window was {slowdown:.0%} slower than the first")
    if growth > max_growth_mb:
        problems.append(f"the server's memory grew by {growth:.1f} MB")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="asserts to send (default 100,000)")
    parser.add_argument("--window", type=int, default=10_000, help="asserts a window (default 10,000)")
    parser.add_argument("--update-ratio", type=float, default=0.2, help="share of asserts of known values")
    parser.add_argument("--memory", action="store_true", help="serve in memory (its RSS grows with the data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="exit 1 if throughput or memory drift")
    parser.add_argument("--max-slowdown", type=float, default=0.20)
    parser.add_argument("--max-growth-mb", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.window < 1 or args.count < 2 * args.window:
        parser.error("--count must hold at least two windows")
    with tempfile.TemporaryDirectory() as scratch:
        db = None if args.memory else str(Path(scratch) / "soak.db")
        process, base_url = start_server(db, Path(scratch) / "serve.log")
        try:
            print(f"target           {base_url} ({'in memory' if args.memory else 'a database file'})")
            windows = soak(base_url, process.pid, args.count, args.window, args.update_ratio, args.seed)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    problems = verdict(windows, args.max_slowdown, args.max_growth_mb)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
