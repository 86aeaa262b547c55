"""junit.xml from a report: one test suite per clause, one test case per (clause, test).

CI dashboards then show each contract clause with the tests behind it. A test that checks several
clauses appears under each; it fails only under the clause its failure names, and is an error
(no verdict) under the others. Inconclusive is an error with the reason, not-run a skip. Each suite
carries the clause's verdict (and its reason) as properties, so a partial clause does not read as pass.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from typing import Any

__all__ = ["junit_xml"]


def _case(suite: ElementTree.Element, clause: str, test: Mapping[str, Any]) -> str:
    """Add the test case of `test` under `clause`; return its status there."""
    module, _, name = str(test["id"]).partition("::")
    case = ElementTree.SubElement(suite, "testcase", classname=f"{clause}.{module.removesuffix('.py')}",
                                  name=name or module, time=f"{test.get('duration') or 0:.3f}")
    outcome, failure = test["outcome"], test.get("failure") or {}
    if outcome == "fail" and failure.get("clause") in (clause, None):
        node = ElementTree.SubElement(case, "failure", message=str(failure.get("summary", ""))[:500],
                                      type=str(failure.get("rule", clause)))
        node.text = str(failure.get("message", ""))
        return "failure"
    if outcome == "fail":
        node = ElementTree.SubElement(case, "error", message=f"no verdict on {clause}: the test failed on "
                                      f"{failure.get('clause')} first ({failure.get('summary', '')})"[:500])
        return "error"
    if outcome == "inconclusive":
        ElementTree.SubElement(case, "error", message=f"inconclusive: {test.get('reason') or ''}"[:500],
                               type="inconclusive")
        return "error"
    if outcome == "not-run":
        ElementTree.SubElement(case, "skipped", message=str(test.get("reason") or "not run")[:500])
        return "skipped"
    return "pass"


def junit_xml(report: Mapping[str, Any]) -> bytes:
    """The report as JUnit XML (the dialect Jenkins, GitLab and GitHub test reporters read)."""
    root = ElementTree.Element("testsuites", name=f"crm-contract {report.get('target', '')}",
                               time=f"{report.get('duration') or 0:.3f}")
    for clause in report["clauses"]:
        tests = [test for test in report["tests"] if clause["id"] in test.get("clauses", ())]
        suite = ElementTree.SubElement(root, "testsuite", name=f"{clause['id']}: {clause.get('title', '')}",
                                       timestamp=str(report.get("started", "")))
        if clause.get("verdict"):  # the clause's own verdict: partial and not-run are not pass
            properties = ElementTree.SubElement(suite, "properties")
            ElementTree.SubElement(properties, "property", name="verdict", value=str(clause["verdict"]))
            if clause.get("reason"):
                ElementTree.SubElement(properties, "property", name="reason", value=str(clause["reason"])[:500])
        counts = {"failure": 0, "error": 0, "skipped": 0, "pass": 0}
        for test in tests:
            counts[_case(suite, clause["id"], test)] += 1
        suite.set("tests", str(len(tests)))
        suite.set("failures", str(counts["failure"]))
        suite.set("errors", str(counts["error"]))
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", f"{sum(test.get('duration') or 0 for test in tests):.3f}")
    root.set("tests", str(sum(int(suite.get("tests", 0)) for suite in root)))
    root.set("failures", str(sum(int(suite.get("failures", 0)) for suite in root)))
    root.set("errors", str(sum(int(suite.get("errors", 0)) for suite in root)))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
