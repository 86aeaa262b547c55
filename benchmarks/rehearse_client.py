"""The rehearsal's client against a raw async httpx loop: the same asserts, the same server, the same run.

Starts ``crm-contract serve`` (assert_throughput.py's way), makes two objects of the rehearsal's catalogue,
then asserts the catalogue's N rows into one with a plain ``httpx.AsyncClient`` loop (C in flight, no
checks) and into the other with the rehearsal itself (``Sync.run``: the suite's client, every answer
judged; no retried rows, so that both send the same requests), in turns, ``--rounds`` times. It prints
both rates and the ratio of their times; the goal is at most 1.2x (``--max-ratio`` makes it the exit code).

    python benchmarks/rehearse_client.py [--records 5000] [--concurrency 8] [--max-ratio 1.2]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx
from assert_throughput import TOKEN, start_server

from crm_contract.kit.client import ContractClient
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import Workspace
from crm_contract.rehearsal.catalogue import Catalogue
from crm_contract.rehearsal.sync import Sync, pooled_clients


def made(target: Target, slug: str, records: int) -> Catalogue:
    catalogue = Catalogue(slug, records, seed=7, unique=True)
    with target.client() as http:
        created = Workspace(ContractClient(http)).create_object(catalogue.definition())
    options = {attribute.key: attribute.option_ids for attribute in created.schema.attributes}
    catalogue.bind(created.keys, {label: options.get(key, ()) for label, key in created.keys.items()})
    return catalogue


async def raw_loop(base_url: str, catalogue: Catalogue, concurrency: int) -> float:
    """Seconds to assert every row with C in flight from one AsyncClient, answers unread but the status."""
    limits = httpx.Limits(max_connections=concurrency)
    rows = iter(range(catalogue.size))
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, limits=limits,
                                 timeout=30) as http:
        async def worker() -> None:
            for index in rows:
                answer = await http.put(f"/crm/{catalogue.slug}", json=catalogue.row(index, 0),
                                        params={"matchingAttribute": catalogue.matching_key})
                if answer.status_code != 201:
                    raise SystemExit(f"raw loop: {answer.status_code} {answer.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def rehearsal(target: Target, catalogue: Catalogue, concurrency: int) -> float:
    with pooled_clients(target.client) as clients:
        sync = Sync(catalogue, clients, concurrency=concurrency, strict=True, retry_share=0.0)
        stats = sync.run(1, seed=7)
    if sync.findings:
        raise SystemExit(f"the rehearsal found {sorted(sync.findings)} on the reference server")
    return stats.elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-ratio", type=float, help="exit 1 when the rehearsal is slower than this")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        process, base_url = start_server(None, Path(scratch) / "serve.log")
        try:
            target = Target.from_options(base_url, TOKEN, timeout=30)
            print(f"{'round':>5}  {'raw httpx loop':>16}  {'rehearsal':>16}  {'ratio':>6}")
            ratios = []
            for round_ in range(1, args.rounds + 1):
                raw = asyncio.run(raw_loop(base_url, made(target, f"raw-{round_}", args.records), args.concurrency))
                ours = rehearsal(target, made(target, f"rh-{round_}", args.records), args.concurrency)
                ratios.append(ours / raw)
                print(f"{round_:>5}  {args.records / raw:>10,.0f} a/s  {args.records / ours:>10,.0f} a/s  "
                      f"{ratios[-1]:>5.2f}x")
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    best = min(ratios)
    print(f"ratio            {best:.2f}x (best round; goal at most 1.2x)")
    return 1 if args.max_ratio is not None and best > args.max_ratio else 0


if __name__ == "__main__":
    sys.exit(main())
