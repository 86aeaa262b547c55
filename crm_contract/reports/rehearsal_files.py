"""A rehearsal's report files: JUnit XML (a case per check) and an HTML page with plotly charts.

The page shows, for each object and run, latency over time (p50, p95 and the maximum of every second)
and a latency histogram, drawn by plotly from the run's figures; plotly's script is written once beside
the page (`plotly.min.js`), so the page opens with no network. The findings follow, with their examples.
"""

from __future__ import annotations

import html
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_html", "write_junit"]


def write_junit(path: Path, rehearsals: Sequence[dict[str, Any]], rules: dict[str, str],
                judged: set[str]) -> None:
    """One suite per object, one case per rule: failed with its examples, skipped when not judged."""
    root = ET.Element("testsuites", name="crm-contract rehearse")
    for rehearsal in rehearsals:
        kind = "isUnique" if rehearsal["matchingUnique"] else "not unique"
        findings = {finding["rule"]: finding for finding in rehearsal["findings"]}
        suite = ET.SubElement(root, "testsuite", name=f"rehearsal ({kind})", tests=str(len(rules)))
        failures = skipped = 0
        for rule, title in rules.items():
            case = ET.SubElement(suite, "testcase", classname=f"rehearse.{kind.replace(' ', '_')}",
                                 name=f"{rule}: {title}")
            finding = findings.get(rule)
            if finding is None:
                continue
            text = "\n\n".join(finding["examples"])
            if rule in judged:
                failures += 1
                failed = ET.SubElement(case, "failure", message=f"{rule}: {finding['keys']} keys", type=rule)
                failed.text = text
            else:
                skipped += 1
                ET.SubElement(case, "skipped", message=f"{rule} is [R]: noted ({finding['keys']} keys), not judged "
                                                       "under the documented profile")
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _per_second(timeline: Sequence[tuple[float, float]]) -> tuple[list[float], dict[str, list[float]]]:
    buckets: dict[int, list[float]] = {}
    for at, seconds in timeline:
        buckets.setdefault(int(at), []).append(seconds * 1000)
    xs = sorted(buckets)
    lines: dict[str, list[float]] = {"p50": [], "p95": [], "max": []}
    for second in xs:
        values = sorted(buckets[second])
        lines["p50"].append(values[len(values) // 2])
        lines["p95"].append(values[min(len(values) - 1, int(0.95 * len(values)))])
        lines["max"].append(values[-1])
    return [float(x) for x in xs], lines


def _histogram(latencies: Sequence[float], bins: int = 40) -> tuple[list[float], list[int]]:
    """Counts of latencies (ms) in `bins` logarithmic bins; the bins' centres."""
    values = [max(seconds * 1000, 0.01) for seconds in latencies]
    if not values:
        return [], []
    low, high = math.log10(min(values)), math.log10(max(values)) + 1e-9
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((math.log10(value) - low) / width))] += 1
    centres = [10 ** (low + (index + 0.5) * width) for index in range(bins)]
    return centres, counts


def write_html(directory: Path, report: dict[str, Any], timelines: dict[tuple[bool, int], Any]) -> Path:
    """rehearsal.html (and plotly.min.js) in `directory`; `timelines` maps (unique, run) to its RunStats."""
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    (directory / "plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")
    parts = [f"<h1>Rehearsal of {html.escape(report['target'])}</h1>"]
    if report.get("inconclusive"):
        parts.append(f"<p class=warn>No verdict: {html.escape(report['inconclusive'])}</p>")
    for rehearsal in report["rehearsals"]:
        kind = "isUnique" if rehearsal["matchingUnique"] else "not unique"
        parts.append(f"<h2>Matching attribute {kind}</h2><table><tr><th>run</th><th>asserts</th><th>a/s</th>"
                     "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>statuses</th>"
                     "<th>retried rows</th><th>read back</th></tr>")
        for run in rehearsal["runs"]:
            ms = run["latencyMs"]
            statuses = ", ".join(f"{status} x{count:,}" for status, count in run["byStatus"].items())
            parts.append(f"<tr><td>{run['run']}</td><td>{run['asserts']:,}</td><td>{run['assertsPerSecond']:,.0f}</td>"
                         f"<td>{ms['p50']}</td><td>{ms['p95']}</td><td>{ms['p99']}</td><td>{ms['max']}</td>"
                         f"<td>{html.escape(statuses)}</td><td>{run['retries']:,}</td><td>{run['readBack']:,}</td></tr>")
        parts.append("</table>")
        over_time = go.Figure()
        histogram = go.Figure()
        for run in rehearsal["runs"]:
            stats = timelines.get((rehearsal["matchingUnique"], run["run"]))
            if stats is None:
                continue
            xs, lines = _per_second(stats.timeline)
            for name, values in lines.items():
                over_time.add_trace(go.Scatter(x=xs, y=values, mode="lines", name=f"run {run['run']} {name}"))
            centres, counts = _histogram(stats.latencies)
            histogram.add_trace(go.Bar(x=centres, y=counts, name=f"run {run['run']}", opacity=0.6))
        over_time.update_layout(title=f"Latency over time ({kind}), per second", xaxis_title="seconds into the run",
                                yaxis_title="ms", height=380)
        histogram.update_layout(title=f"Latency histogram ({kind})", xaxis_title="ms", xaxis_type="log",
                                yaxis_title="asserts", barmode="overlay", height=380)
        for figure in (over_time, histogram):
            parts.append(pio.to_html(figure, include_plotlyjs=False, full_html=False))
        findings = rehearsal["findings"]
        parts.append("<h3>Findings</h3>" if findings else "<p class=ok>No findings: every record came out once, "
                     "with its values, on every run.</p>")
        for finding in findings:
            parts.append(f"<details open><summary>{html.escape(finding['rule'])}: {html.escape(finding['title'])} "
                         f"({finding['keys']:,} keys)</summary>")
            parts += [f"<pre>{html.escape(example)}</pre>" for example in finding["examples"]]
            parts.append("</details>")
    page = ("<!doctype html><html><head><meta charset=utf-8><title>crm-contract rehearse</title>"
            "<script src=\"plotly.min.js\"></script><style>body{font:14px system-ui,sans-serif;margin:2em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "pre{white-space:pre-wrap;background:#f6f6f6;padding:6px}.ok{color:#166534}.warn{color:#b45309}"
            "</style></head><body>" + "\n".join(parts) + "</body></html>")
    path = directory / "rehearsal.html"
    path.write_text(page, encoding="utf-8")
    return path
