"""`crm-contract compare`: the same seeded suite against two or more targets, clause by clause.

The use it is made for is mock fidelity: "does my mock of the Zeeg API keep the contract where the
reference server does?" (`--base-url reference --base-url http://localhost:4010/v2`), or staging
against the reference. Each target is checked by `crm_contract.runs.runner.run_suite` into
`DIR/<n>-<host>`, one after the other, with one seed for all, so that every target sees the same
examples; the suite runs in the runner's child process, so nothing of it is imported here. The
reports are then joined into `DIR/compare.json`, `DIR/compare.html` and a text matrix.

Exit codes: 0 the targets agree on every clause; 1 they differ on a clause; 2 usage or configuration
error (a bad URL, fewer than two base URLs, a token count that does not pair up, an unusable target);
3 inconclusive: a run ended without a verdict before any test, or the targets differ only where one of
them was left without a verdict (a rate-limited target is not evidence of a different behaviour).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crm_contract.errors import FAILED, INCONCLUSIVE, OK, USAGE, Inconclusive, UsageError
from crm_contract.kit.clauses import CLAUSES
from crm_contract.kit.target import READ_TOKEN_ENV, TOKEN_ENV, Target
from crm_contract.reports.diff import ABSENT, ReportError, clause_order, load_report
from crm_contract.runs.runner import RunOptions, run_suite

__all__ = [
    "COMPARE_FORMAT", "REFERENCE", "Column", "CompareError", "build_comparison", "exit_code", "format_matrix",
    "make_targets", "pair_tokens", "preflight", "replay_files", "run_target", "write_html",
]

COMPARE_FORMAT = "crm-contract-compare/1"
REFERENCE = "reference"  # the --base-url that stands for the embedded reference server


class CompareError(UsageError):
    """Bad input or an unusable target: one line, exit code 2."""


@dataclass(frozen=True)
class Column:
    """One column of the comparison: its name and its target (`Target.embedded_reference` for REFERENCE)."""

    name: str  # `<n>-<host>`, also the name of its report directory
    target: Target = field(repr=False)

    @property
    def base_url(self) -> str:
        return REFERENCE if self.target.embedded else self.target.base_url

    @property
    def token(self) -> str | None:
        """The token given for the target; the embedded server's own is not one."""
        return None if self.target.embedded else self.target.token

    @property
    def shown_url(self) -> str:
        """The base URL without user info, query or fragment, as reports give it: no credential leaves."""
        return REFERENCE if self.target.embedded else self.target.public_url


# Targets from the options ----------------------------------------------------------------------------------


def pair_tokens(values: Sequence[str], urls: Sequence[str], option: str) -> list[str | None]:
    """The token of each base URL: one value for all, or one per base URL in order.

    "One per base URL" may count every base URL or only those that need a token (all but `reference`),
    so that `--base-url reference --base-url URL --token T` reads naturally; a `reference` target never
    gets a token (its embedded server makes its own), so a value in its position is ignored.
    """
    needing = [url for url in urls if url != REFERENCE]
    if not values:
        return [None] * len(urls)
    if len(values) == 1:
        given = [values[0]] * len(urls)
    elif len(values) == len(urls):
        given = list(values)
    elif len(values) == len(needing):
        remaining = iter(values)
        given = [next(remaining) if url != REFERENCE else "" for url in urls]
    else:
        raise CompareError(
            f"{len(values)} {option} values for {len(urls)} base URLs ({len(needing)} need a token): give one "
            f"for all, or one per base URL in order ({REFERENCE!r} needs none)"
        )
    return [None if url == REFERENCE else value for url, value in zip(urls, given, strict=True)]


def make_targets(base_urls: Sequence[str], tokens: Sequence[str], read_tokens: Sequence[str],
                 environ: Mapping[str, str], profile: str = "strict") -> list[Column]:
    """The targets in the order given, with their tokens; every usage error is found before any run."""
    if len(base_urls) < 2:
        raise CompareError(f"compare needs at least two --base-url (use {REFERENCE!r} for the embedded reference "
                           "server)")
    fallback = [environ[TOKEN_ENV]] if environ.get(TOKEN_ENV) else []
    read_fallback = [environ[READ_TOKEN_ENV]] if environ.get(READ_TOKEN_ENV) else []
    paired = pair_tokens(list(tokens) or fallback, base_urls, "--token")
    paired_read = pair_tokens(list(read_tokens) or read_fallback, base_urls, "--read-token")
    targets = []
    for n, (url, token, read_token) in enumerate(zip(base_urls, paired, paired_read, strict=True), start=1):
        if url != REFERENCE and not (token or "").strip():
            raise CompareError(f"a token is needed for {url}: --token or {TOKEN_ENV}")
        if read_token is not None and read_token == token:
            raise CompareError(f"the read-only token of {url} must differ from its --token")
        target = (Target.embedded_reference(contract_profile=profile) if url == REFERENCE
                  else Target.from_options(url, token, read_token, contract_profile=profile,
                                           url_alternatives=f" or {REFERENCE!r}"))
        host = REFERENCE if url == REFERENCE else re.sub(r"[^A-Za-z0-9.-]", "_", urlsplit(url).hostname or "")
        targets.append(Column(f"{n}-{host}", target))
    return targets


# Running ---------------------------------------------------------------------------------------------------


def preflight(columns: Sequence[Column]) -> None:
    """Probe every URL target before the first run, so a mock that is down fails now, not after an hour."""
    for column in columns:
        if column.target.embedded:
            continue
        try:
            column.target.preflight()
        except UsageError as error:
            raise CompareError(f"{column.name}: {error.message}") from None
        except Inconclusive as error:
            raise Inconclusive(f"{column.name}: {error.message}") from None


def run_target(column: Column, directory: Path, options: RunOptions) -> dict[str, Any]:
    """The suite against one target into `directory` (probed already, by `preflight`); its parsed report.json."""
    report = directory / "report.json"
    report.unlink(missing_ok=True)  # a report left by an earlier compare must not pass for this run's
    try:
        finished = run_suite(column.target, replace(options, report_dir=directory, probe=False))
    except UsageError as error:
        raise CompareError(f"{column.name}: {error.message}") from None
    except Inconclusive as error:
        raise Inconclusive(f"{column.name}: {error.message}") from None
    if report.is_file():
        try:
            return load_report(report)
        except ReportError as error:
            raise Inconclusive(f"{column.name}: {error.message}") from None
    reason = f"the run ended (exit {finished.exit_code}) without writing {report}"
    if finished.exit_code == USAGE:
        raise CompareError(f"{column.name}: {reason}")
    raise Inconclusive(f"{column.name}: {reason}")


# Joining the reports ---------------------------------------------------------------------------------------


def build_comparison(targets: Sequence[Column], reports: Sequence[Mapping[str, Any]],
                     seed: int | None) -> dict[str, Any]:
    """`compare.json`: the targets, the seed, and per clause each target's verdict and whether they differ."""
    titles = {clause.id: (clause.title, clause.tag) for clause in CLAUSES}
    clauses = []
    for clause in clause_order(*reports):
        entries: list[Mapping[str, Any]] = [
            next((c for c in report.get("clauses", []) if c["id"] == clause), {}) for report in reports
        ]
        verdicts = {target.name: entry.get("verdict", ABSENT) for target, entry in zip(targets, entries, strict=True)}
        title, tag = titles.get(clause) or (next((e.get("title") for e in entries if e.get("title")), ""),
                                            next((e.get("tag") for e in entries if e.get("tag")), ""))
        differs = len(set(verdicts.values())) > 1
        clauses.append({"id": clause, "title": title, "tag": tag, "verdicts": verdicts, "differs": differs,
                        # a difference only a verdict-less run makes says nothing about behaviour
                        "conclusive": not (differs and "inconclusive" in verdicts.values())})
    first = reports[0] if reports else {}
    return {
        "format": COMPARE_FORMAT,
        "seed": seed,
        "contract_profile": first.get("contract_profile"),
        "hypothesis_profile": first.get("hypothesis_profile"),
        "targets": [{"name": target.name, "base_url": target.shown_url, "target": report.get("target"),
                     "report": f"{target.name}/report.json", "verdict": report.get("verdict"),
                     "run_id": report.get("run_id"), "totals": report.get("totals"),
                     "fidelity": (report.get("fidelity") or {}).get("summary")}
                    for target, report in zip(targets, reports, strict=True)],
        "clauses": clauses,
        "differ": [clause["id"] for clause in clauses if clause["differs"]],
        "agree": not any(clause["differs"] for clause in clauses),
    }


def exit_code(comparison: Mapping[str, Any]) -> int:
    differing = [clause for clause in comparison["clauses"] if clause["differs"]]
    if not differing:
        return OK
    return FAILED if any(clause["conclusive"] for clause in differing) else INCONCLUSIVE


def format_matrix(comparison: Mapping[str, Any]) -> str:
    """Clauses down, targets across, `differs` at the end of a row whose verdicts are not all the same."""
    names = [target["name"] for target in comparison["targets"]]
    widths = [max(len(name), len("inconclusive")) for name in names]
    first = max([len("clause"), *(len(clause["id"]) for clause in comparison["clauses"])])
    header = f"{'clause':{first}}  " + "  ".join(f"{name:{width}}" for name, width in zip(names, widths, strict=True))
    lines = []
    for target in comparison["targets"]:  # what kind of target each is, before any table
        if target.get("fidelity"):
            lines += [*textwrap.wrap(f"{target['name']}: {target['fidelity']}", width=100), ""]
    lines += [header.rstrip(), "-" * len(header)]
    for clause in comparison["clauses"]:
        cells = "  ".join(f"{clause['verdicts'][name]:{width}}" for name, width in zip(names, widths, strict=True))
        marker = "" if not clause["differs"] else "differs" if clause["conclusive"] else "differs (inconclusive)"
        lines.append(f"{clause['id']:{first}}  {cells}  {marker}".rstrip())
    lines.append("")
    for target in comparison["targets"]:
        where = "the embedded reference server" if target["base_url"] == REFERENCE else target["base_url"]
        lines.append(f"{target['name']}: {where}, run verdict {target['verdict']} ({target['report']})")
    differ = comparison["differ"]
    seed = comparison["seed"]
    if not differ:
        lines.append(f"the targets agree on all {len(comparison['clauses'])} clauses (seed {seed})")
    else:
        lines.append(f"the targets differ on {len(differ)} of {len(comparison['clauses'])} clauses: "
                     f"{', '.join(differ)} (seed {seed})")
    return "\n".join(lines)


def replay_files(directories: Sequence[Path], reports: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Every replay file the reports name, keyed for `render_html`; one that cannot be read is left out."""
    from crm_contract.reports.html import failure_key

    found: dict[str, Mapping[str, Any]] = {}
    for index, (directory, report) in enumerate(zip(directories, reports, strict=True)):
        paths = {path for clause in report.get("clauses", []) for path in clause.get("failures") or []}
        paths |= {test["failure"]["replay"] for test in report.get("tests", [])
                  if isinstance(test.get("failure"), dict) and test["failure"].get("replay")}
        for path in sorted(paths):
            try:
                data = json.loads((directory / path).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                found[failure_key(index, path, reports=len(reports))] = data
    return found


def write_html(root: Path, targets: Sequence[Column], reports: Sequence[Mapping[str, Any]]) -> None:
    from crm_contract.reports.html import render_html

    failures = replay_files([root / target.name for target in targets], reports)
    title = "crm-contract compare: " + " vs ".join(target.shown_url for target in targets)
    (root / "compare.html").write_text(render_html(reports, failures=failures, title=title), encoding="utf-8")
