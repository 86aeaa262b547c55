"""`report.html`: one self-contained page for a run, or for several targets side by side.

The page travels alone (a CI artefact, a mail attachment, a file opened from disk), so everything is
inline: CSS in a `<style>`, no script, no font, no image, no link to anything but its own anchors. A
Content-Security-Policy meta tells the browser the same, so a report of a staging run can never make
the reader's browser call out. Every value from a report or a replay file goes through `html.escape`:
bodies hold whatever the target sent, `<script>` included. Long bodies are cut, saying how long they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

__all__ = ["failure_key", "render_html"]

BODY_LIMIT = 2000
_VERDICTS = ("pass", "partial", "fail", "inconclusive", "not-run")
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'"
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:24px 32px;
 color:#1d1d1f;background:#fff;max-width:1600px}
h1{font-size:22px;margin:0 0 10px}h2{font-size:18px;margin:32px 0 8px;padding-bottom:4px;border-bottom:2px solid #ccc}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #cfcfcf;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#eef0f3;position:sticky;top:0}th.row{background:#f6f7f9;font-weight:600;white-space:nowrap}
code,pre{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f7f7f8;border:1px solid #e2e2e2;padding:6px 8px;margin:4px 0;white-space:pre-wrap;
 overflow-wrap:anywhere;max-height:420px;overflow:auto}
.v{font-weight:700}.v a{color:inherit}.v small{display:block;font-weight:400;font-size:11px;opacity:.85}
.v-pass{background:#d3f0d3;color:#0b4a0b}.v-fail{background:#f7c6c6;color:#7d0a0a}
.v-inconclusive{background:#fbe2a0;color:#5a3f00}.v-partial{background:#dcebd0;color:#2d4a1a}.v-not-run,.v-unknown,.v-absent{background:#e4e4e4;color:#333}
.badge{display:inline-block;padding:2px 10px;border-radius:4px;margin:0 8px 4px 0}
.banner{font-size:16px;margin:6px 0 14px}
tr.differs>td.diff{background:#fff0c2;color:#6b2b00;font-weight:700;white-space:nowrap}
tr.differs>th{box-shadow:inset 4px 0 0 #d9822b}
.tag{font-family:ui-monospace,monospace;font-size:12px;color:#555}
.failure{border:1px solid #e6b4b4;border-left:6px solid #c0392b;border-radius:3px;padding:6px 14px 10px;margin:14px 0}
.failure h3{margin-top:8px}.ev{display:grid;grid-template-columns:1fr 1fr;gap:12px}
ol.exchanges{padding-left:26px}ol.exchanges>li{margin:10px 0}
.req code{font-weight:700}.auth{color:#555;font-size:12px;margin-left:6px}
.note{color:#555;font-size:12.5px;margin:4px 0}.muted{color:#666}
td.id code{overflow-wrap:anywhere}summary{cursor:pointer;font-weight:600;margin:6px 0}
.fidelity{font-size:15px;max-width:1000px;border-left:6px solid #5b6b8c;padding:4px 12px;background:#f4f6fa}
"""


def failure_key(index: int, replay: str, *, reports: int) -> str:
    """The key of a replay file in `render_html(failures=...)`.

    One report: the replay path as the report lists it (`failures/A1-1.json`). Several reports: the
    report's position in `reports`, a slash, then that path (`1/failures/A1-1.json`), because every
    report directory has its own `failures/A1-1.json`. `render_html` also accepts the prefixed form
    for a single report, so a caller that always prefixes is not silently left without requests.
    """
    return replay if reports == 1 else f"{index}/{replay}"


def render_html(
    reports: Sequence[Mapping[str, Any]],
    *,
    failures: Mapping[str, Mapping[str, Any]] | None = None,
    title: str | None = None,
) -> str:
    """The whole page for one or more parsed `report.json` (one per target, in column order).

    `failures` maps `failure_key(...)` of each replay path to the parsed replay file; a failure whose
    file is missing is still listed from the report, without its requests.
    """
    if not reports:
        raise ValueError("render_html needs at least one report")
    found = [list(_failures_of(i, report, failures or {}, len(reports))) for i, report in enumerate(reports)]
    title = title or _default_title(reports)
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{_e(title)}</h1>",
            _fidelity(reports),
            _header(reports),
            _matrix(reports, found),
            _failures_section(reports, found),
            _tests_section(reports, found),
            _contract_section(reports),
            "</body></html>\n",
        ]
    )
    # Parsed JSON may hold lone surrogates ("\ud800"), which no file encoding accepts: the page must be writable.
    return page.encode("utf-8", "replace").decode("utf-8")


@dataclass
class _Failure:
    index: int
    anchor: str
    replay: str | None
    clause: str
    test: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] | None = None

    @property
    def summary(self) -> str:
        return str((self.data or {}).get("summary") or (self.test.get("failure") or {}).get("summary") or "")


def _failures_of(
    index: int, report: Mapping[str, Any], failures: Mapping[str, Mapping[str, Any]], count: int
) -> Iterator[_Failure]:
    """Each failure once: those the clauses list (in clause order), then any test failure without a clause entry."""
    failing_tests = [test for test in report.get("tests") or [] if test.get("failure")]
    by_replay = {test["failure"].get("replay"): test for test in failing_tests if test["failure"].get("replay")}
    entries: list[tuple[str | None, str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for clause in report.get("clauses") or []:
        for replay in clause.get("failures") or []:
            if replay not in seen:
                seen.add(replay)
                entries.append((replay, str(clause.get("id")), by_replay.get(replay, {})))
    for test in failing_tests:
        replay = test["failure"].get("replay")
        if replay is None or replay not in seen:
            seen.add(replay or "")
            entries.append((replay, str(test["failure"].get("clause") or ""), test))
    for n, (replay, clause, test) in enumerate(entries):
        data = None
        if replay:
            data = failures.get(f"{index}/{replay}") or (failures.get(replay) if count == 1 else None)
        yield _Failure(index, f"f{index}-{n}", replay, clause, test, data)


def _fidelity(reports: Sequence[Mapping[str, Any]]) -> str:
    """Each target's fidelity paragraph (`crm_contract.plugin.fidelity`), first: what kind of target it is."""
    said = [(r, (r.get("fidelity") or {}).get("summary")) for r in reports]
    return "".join(f'<p class="fidelity">{"<b>" + _e(_target(r)) + ":</b> " if len(reports) > 1 else ""}{_e(text)}</p>'
                   for r, text in said if text)


def _header(reports: Sequence[Mapping[str, Any]]) -> str:
    banner = " ".join(
        f'<span class="badge v {_cls(r.get("verdict"))}">{_e(_target(r)) + ": " if len(reports) > 1 else ""}'
        f'{_e(r.get("verdict") or "unknown")}</span>'
        for r in reports
    )
    rows: list[tuple[str, list[str]]] = [
        ("Target", [f"<code>{_e(_target(r))}</code>" for r in reports]),
        ("Verdict", [f'<span class="badge v {_cls(r.get("verdict"))}">{_e(r.get("verdict"))}</span>' for r in reports]),
        ("Totals", [_totals(r.get("totals") or {}) for r in reports]),
        ("First violation", [_first_violation(r.get("first_violation")) for r in reports]),
        ("Contract profile", [_e(r.get("contract_profile")) + _left_out(r) for r in reports]),
        ("Hypothesis profile", [_e(r.get("hypothesis_profile")) for r in reports]),
        ("Seed", [_e(r.get("seed")) if r.get("seed") is not None else "none (random)" for r in reports]),
        ("Started", [_e(r.get("started")) for r in reports]),
        ("Duration", [_e(_seconds(r.get("duration"), 1)) for r in reports]),
        ("Run id", [f"<code>{_e(r.get('run_id'))}</code>" for r in reports]),
        ("Versions", [_versions(r.get("versions") or {}) for r in reports]),
    ]
    body = "".join(
        f'<tr><th class="row">{name}</th>{"".join(f"<td>{cell}</td>" for cell in cells)}</tr>' for name, cells in rows
    )
    return f'<p class="banner">Verdict: {banner}</p><table class="run"><tbody>{body}</tbody></table>'


def _matrix(reports: Sequence[Mapping[str, Any]], found: Sequence[Sequence[_Failure]]) -> str:
    """Clauses down, targets across; a row whose verdicts differ between targets says so in words."""
    order: dict[str, Mapping[str, Any]] = {}
    for report in reports:
        for clause in report.get("clauses") or []:
            order.setdefault(str(clause.get("id")), clause)
    several = len(reports) > 1
    head = "".join(f"<th>{_e(_target(r))}</th>" for r in reports) + ("<th>Differs</th>" if several else "")
    rows: list[str] = []
    differing = 0
    for clause_id, clause in order.items():
        cells: list[str] = []
        verdicts: set[Any] = set()
        for i, report in enumerate(reports):
            mine = next((c for c in report.get("clauses") or [] if str(c.get("id")) == clause_id), None)
            verdicts.add(mine.get("verdict") if mine else None)
            cells.append(_matrix_cell(mine, next((f for f in found[i] if f.clause == clause_id), None)))
        differs = several and len(verdicts) > 1
        differing += differs
        if several:
            cells.append('<td class="diff">≠ differs</td>' if differs else '<td class="diff muted">same</td>')
        rows.append(
            f'<tr{" class=differs" if differs else ""}><th class="row">{_clause_link(clause_id, clause)}</th>'
            f'<td>{_e(clause.get("title"))}</td><td class="tag">{_e(clause.get("tag"))}</td>{"".join(cells)}</tr>'
        )
    note = f'<p class="note">{differing} of {len(order)} clauses differ between the targets.</p>' if several else ""
    return (
        f"<h2>Clauses</h2>{note}<table class=matrix><thead><tr><th>Clause</th><th>Title</th><th>Tag</th>"
        f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        '<p class="note">Tag: D documented by Zeeg, R a reference choice where the documentation is silent, '
        "D/R both.</p>"
    )


def _left_out(report: Mapping[str, Any]) -> str:
    """What the documented profile left out, so nobody reads its pass as a pass of every rule."""
    left_out = report.get("strict_adds")
    if report.get("contract_profile") != "documented" or not isinstance(left_out, int):
        return ""
    return f" <small>(--profile strict adds {left_out} tests of reference choices [R])</small>"


def _clause_link(clause_id: str, clause: Mapping[str, Any]) -> str:
    """The clause id, linked to its entry in the page's contract section when the report names its place."""
    if not clause.get("contract"):
        return _e(clause_id)
    return f'<a href="#contract-{_e(_slug(clause_id))}" title="{_e(clause.get("title"))}">{_e(clause_id)}</a>'


def _slug(clause_id: str) -> str:
    return "-".join(clause_id.lower().split())


def _contract_section(reports: Sequence[Mapping[str, Any]]) -> str:
    """Each clause with its tag, statement and place in the project's contract document (docs/contract.md)."""
    seen: dict[str, Mapping[str, Any]] = {}
    for report in reports:
        for clause in report.get("clauses") or []:
            if clause.get("contract"):
                seen.setdefault(str(clause.get("id")), clause)
    if not seen:
        return ""
    items = "".join(
        f'<li id="contract-{_e(_slug(clause_id))}"><b>{_e(clause_id)}</b> [{_e(clause.get("tag"))}] '
        f'{_e(clause.get("title"))} <small>({_e(clause.get("contract"))})</small></li>'
        for clause_id, clause in seen.items()
    )
    return (f'<h2>Contract</h2><p class="note">The rules, as zeeg-crm-contract states them in docs/contract.md '
            f"(<code>crm-contract clauses</code> prints this list).</p><ul class=contract>{items}</ul>")


def _matrix_cell(clause: Mapping[str, Any] | None, failure: _Failure | None) -> str:
    if clause is None:
        return '<td class="v v-absent">absent <small>not in this report</small></td>'
    verdict = _e(clause.get("verdict") or "unknown")
    word = f'<a href="#{failure.anchor}">{verdict}</a>' if failure else verdict
    counts = " · ".join(f"{_num(clause.get(key))} {key}" for key in ("tests", "examples", "requests"))
    return f'<td class="v {_cls(clause.get("verdict"))}">{word} <small>{counts}</small></td>'


def _failures_section(reports: Sequence[Mapping[str, Any]], found: Sequence[Sequence[_Failure]]) -> str:
    parts = ["<h2>Failures</h2>"]
    for report, mine in zip(reports, found, strict=True):
        if len(reports) > 1:
            parts.append(f"<h3>{_e(_target(report))}</h3>")
        if not mine:
            parts.append('<p class="muted">No failures.</p>')
        titles = {str(c.get("id")): c.get("title") for c in report.get("clauses") or []}
        parts.extend(_failure(f, report, titles.get(f.clause), several=len(reports) > 1) for f in mine)
    return "\n".join(parts)


def _failure(failure: _Failure, report: Mapping[str, Any], clause_title: Any, *, several: bool) -> str:
    data = failure.data or {}
    test_id = data.get("test") or failure.test.get("id")
    rule = data.get("rule") or (failure.test.get("failure") or {}).get("rule")
    facts = [
        ("Clause", f"<b>{_e(failure.clause)}</b> " + (_e(clause_title) if clause_title else "")),
        ("Rule", _e(rule)),
        ("Test", f"<code>{_e(test_id)}</code>"),
        ("Summary", _e(failure.summary)),
    ]
    parts = [
        f'<section class="failure" id="{failure.anchor}"><h3>{_e(failure.clause)}: {_e(failure.summary)}</h3>',
        "<table><tbody>" + "".join(f'<tr><th class="row">{k}</th><td>{v}</td></tr>' for k, v in facts),
        "</tbody></table>",
    ]
    if not failure.data:
        missing = "was not provided" if failure.replay else "does not exist for this failure"
        parts.append(f'<p class="note">The replay file {missing}, so its requests are not shown.</p>')
    else:
        if data.get("expected") is not None or data.get("observed") is not None:  # else the summary says it
            parts.append(
                f'<div class="ev"><div><b>Expected</b>{_block(data.get("expected"))}</div>'
                f'<div><b>Observed</b>{_block(data.get("observed"))}</div></div>'
            )
        exchanges = data.get("exchanges") or []
        parts.append(f"<h4>Requests, oldest first ({len(exchanges)})</h4>")
        parts.append('<ol class="exchanges">' + "".join(_exchange(x) for x in exchanges) + "</ol>")
        if data.get("objects"):
            parts.append(f"<details><summary>Objects the sequence uses ({len(data['objects'])})</summary>")
            parts.append(_block(data["objects"]) + "</details>")
        if data.get("message"):
            parts.append(f"<details><summary>Full message</summary>{_block(data['message'])}</details>")
    if failure.replay:
        where = f" (in the report directory of {_e(_target(report))})" if several else ""
        sh = failure.replay[:-5] + ".sh" if failure.replay.endswith(".json") else failure.replay + ".sh"
        parts.append(
            f'<p class="note">Replay file <code>{_e(failure.replay)}</code>, as curl commands <code>{_e(sh)}</code>'
            f"{where}. Run it again against any target: <code>crm-contract replay {_e(failure.replay)}</code></p>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _exchange(exchange: Mapping[str, Any]) -> str:
    status = exchange.get("status")
    request_body = _block(exchange["body"]) if exchange.get("body") is not None else '<p class="note">no body</p>'
    response = exchange.get("response")
    response_body = _block(response) if response is not None else '<p class="note">no body</p>'
    return (
        f'<li><div class="req"><code>{_e(exchange.get("method"))} {_e(exchange.get("path"))}</code>'
        f' <span class="auth">auth: {_e(exchange.get("auth"))}</span></div>{request_body}'
        f'<div class="resp">→ <b>{_e(status) if status is not None else "no response"}</b></div>{response_body}</li>'
    )


def _tests_section(reports: Sequence[Mapping[str, Any]], found: Sequence[Sequence[_Failure]]) -> str:
    parts = ["<h2>Tests</h2>"]
    for report, mine in zip(reports, found, strict=True):
        tests = report.get("tests") or []
        anchors = {id(f.test): f.anchor for f in mine if f.test}
        counts: dict[str, int] = {}
        for test in tests:
            counts[str(test.get("outcome"))] = counts.get(str(test.get("outcome")), 0) + 1
        tally = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
        target = f" of {_e(_target(report))}" if len(reports) > 1 else ""
        rows = "".join(_test_row(test, anchors.get(id(test))) for test in tests)
        parts.append(
            f"<details><summary>All {len(tests)} tests{target} ({_e(tally) or 'none'})</summary>"
            "<table><thead><tr><th>Test</th><th>Clauses</th><th>Outcome</th><th>Duration</th><th>Examples</th>"
            f"<th>Requests</th><th>Reason</th></tr></thead><tbody>{rows}</tbody></table></details>"
        )
    return "\n".join(parts)


def _test_row(test: Mapping[str, Any], anchor: str | None) -> str:
    failure = test.get("failure") or {}
    reason = _e(test.get("reason") or failure.get("summary") or "")
    if anchor:
        reason = f'<a href="#{anchor}">{reason or "failure"}</a>'
    return (
        f'<tr><td class="id"><code>{_e(test.get("id"))}</code></td><td>{_e(", ".join(test.get("clauses") or []))}</td>'
        f'<td class="v {_cls(test.get("outcome"))}">{_e(test.get("outcome"))}</td>'
        f"<td>{_e(_seconds(test.get('duration'), 2))}</td><td>{_num(test.get('examples'))}</td>"
        f"<td>{_num(test.get('requests'))}</td><td>{reason}</td></tr>"
    )


def _totals(totals: Mapping[str, Any]) -> str:
    outcomes = ", ".join(f"{_num(totals.get(k))} {k}" for k in _VERDICTS if k in totals)
    return (
        f"{_num(totals.get('tests'))} tests: {outcomes}; "
        f"{_num(totals.get('examples'))} examples, {_num(totals.get('requests'))} requests"
    )


def _first_violation(first: Mapping[str, Any] | None) -> str:
    if not first:
        return '<span class="muted">none</span>'
    return (
        f"<b>{_e(first.get('rule'))}</b> after {_e(_seconds(first.get('seconds'), 1))}, "
        f"in <code>{_e(first.get('test'))}</code>"
    )


def _versions(versions: Mapping[str, Any]) -> str:
    return ", ".join(f"{_e(name)} {_e(value)}" for name, value in versions.items()) or "—"


def _block(value: Any) -> str:
    """A body or value as preformatted text: strings as sent, anything else as indented JSON, cut when long."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    note = ""
    if len(text) > BODY_LIMIT:
        note = f'<p class="note">Truncated: the first {BODY_LIMIT:,} of {len(text):,} characters are shown.</p>'
        text = text[:BODY_LIMIT] + " …"
    return f"<pre>{escape(text)}</pre>{note}"


def _default_title(reports: Sequence[Mapping[str, Any]]) -> str:
    if len(reports) == 1:
        return f"Zeeg CRM contract report: {_target(reports[0])}"
    return f"Zeeg CRM contract comparison of {len(reports)} targets"


def _target(report: Mapping[str, Any]) -> str:
    return str(report.get("target") or "unknown target")


def _cls(verdict: Any) -> str:
    """A CSS class from a fixed set, so a verdict string never reaches the markup as a class name."""
    return f"v-{verdict}" if verdict in _VERDICTS else "v-unknown"


def _seconds(value: Any, digits: int) -> str:
    return f"{value:.{digits}f} s" if isinstance(value, int | float) else "—"


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else _e(value)


def _e(value: Any) -> str:
    return "—" if value is None else escape(str(value), quote=True)
