"""The HTML report: what it shows, what it escapes, that it reaches for nothing outside itself, how it renders.

Unit tests build report dicts by hand (the format of `docs/report-format.md`); one test and the check
script's tests open a page in the headless Chromium that CI installs, and fail, not skip, without it.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import crm_contract.reports as reports_package
from crm_contract.kit.clauses import CLAUSES
from crm_contract.reports import browser, failure_key, page_text, render_html, render_in_chromium

ROOT = Path(__file__).resolve().parents[1]
STAGING = "https://staging.example.com/v2"
LOCAL = "http://127.0.0.1:41234/v2"
NASTY = "<script>alert('x')</script> \"quoted\" & Zoë 日本語 😀"
TEST_A1 = "contract_tests/test_assert_rules.py::test_a1_creates[unique-key]"
SUMMARY = "expected HTTP 201, got 200"


def make_report(target: str, verdicts: dict[str, str] | None = None, *, failing: bool = True) -> dict[str, Any]:
    """A report over every clause: A1 fails (when `failing`), the others pass unless `verdicts` says otherwise."""
    verdicts = {"A1": "fail" if failing else "pass", **(verdicts or {})}
    clauses = [
        {"id": c.id, "title": c.title, "tag": c.tag, "contract": c.link, "verdict": verdicts.get(c.id, "pass"),
         "tests": 3,
         "examples": 30, "requests": 1410, "failures": ["failures/A1-1.json"] if c.id == "A1" and failing else []}
        for c in CLAUSES
    ]
    tests = [
        {"id": TEST_A1, "clauses": ["A1"], "outcome": "fail" if failing else "pass", "duration": 1.23,
         "examples": 10, "requests": 87, "reason": None,
         "failure": {"clause": "A1", "rule": "A1", "summary": SUMMARY, "replay": "failures/A1-1.json"}
         if failing else None},
        {"id": "contract_tests/test_conventions.py::test_rate_limit", "clauses": ["section 1"],
         "outcome": "inconclusive", "duration": 9.5, "examples": None, "requests": 12,
         "reason": "the target kept answering 429", "failure": None},
    ]
    return {
        "format": "crm-contract-report/1", "target": target, "contract_profile": "strict",
        "hypothesis_profile": "dev", "seed": 1, "run_id": "3fa2c1d0",
        "versions": {"crm_contract": "0.1.0", "python": "3.11.7", "hypothesis": "6.170.17"},
        "started": "2026-11-27T02:31:00+00:00", "duration": 23.4, "verdict": "fail" if failing else "pass",
        "first_violation": {"seconds": 4.2, "rule": "A1", "test": TEST_A1} if failing else None,
        "totals": {"tests": 2, "pass": 0 if failing else 1, "fail": 1 if failing else 0, "inconclusive": 1,
                   "not-run": 0, "requests": 99, "examples": 10},
        "clauses": clauses, "tests": tests,
    }


def make_replay(response: Any = None) -> dict[str, Any]:
    return {
        "format": "crm-contract-replay/1", "clause": "A1", "rule": "A1", "test": TEST_A1, "summary": SUMMARY,
        "message": f"[A1] {SUMMARY}\nrequests and responses, oldest first: …",
        "expected": {"status": 201}, "observed": {"status": 200},
        "exchanges": [
            {"method": "PUT", "path": "/crm/3fa2c1d0-rules-u-5be1?matchingAttribute=external_key", "auth": "write",
             "body": {"external_key": "3fa2c1d0-x", "name": NASTY}, "status": 200,
             "response": response if response is not None else {"success": True, "data": {"name": NASTY}}},
            {"method": "GET", "path": "/crm/3fa2c1d0-rules-u-5be1", "auth": "read", "body": None, "status": 200,
             "response": {"success": True, "data": []}},
        ],
        "objects": [], "run_id": "3fa2c1d0", "target": LOCAL, "contract_profile": "strict",
        "hypothesis_profile": "dev", "seed": 1, "reproduction": None, "versions": {},
    }


def cell_verdicts(page: str) -> list[str]:
    """The verdict classes of the matrix cells and outcome cells, in page order."""
    return re.findall(r'<td class="v v-([a-z-]+)"', page)


class _Markup(HTMLParser):
    """Every tag and attribute of a page, to prove it refers to nothing outside itself."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


def markup(page: str) -> _Markup:
    parser = _Markup()
    parser.feed(page)
    parser.close()
    return parser


def test_the_package_declares_its_public_names() -> None:
    public = {
        name for name, value in vars(reports_package).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert set(reports_package.__all__) == public, "submodules aside, every public name is declared"


def test_a_failure_shows_its_clause_summary_and_requests() -> None:
    page = render_html([make_report(STAGING)], failures={"failures/A1-1.json": make_replay()})
    text = page_text(page)
    assert "A1: expected HTTP 201, got 200" in text, "the failure's heading names clause and summary"
    assert TEST_A1 in text
    assert "PUT /crm/3fa2c1d0-rules-u-5be1?matchingAttribute=external_key auth: write" in text
    assert "GET /crm/3fa2c1d0-rules-u-5be1 auth: read" in text
    assert "→ 200" in text and "no body" in text
    assert '"status": 201' in text and '"status": 200' in text, "expected and observed as JSON"
    assert "crm-contract replay failures/A1-1.json" in text
    assert "failures/A1-1.sh" in text
    assert 'href="#f0-0"' in page, "the failing matrix cell links to its failure"
    assert "Verdict: fail" in text and "First violation A1 after 4.2 s" in text
    assert "2 tests: 0 pass, 1 fail, 1 inconclusive, 0 not-run; 10 examples, 99 requests" in text
    assert "the target kept answering 429" in text, "the tests table gives the reason"


def test_clause_ids_link_to_the_contract_list_of_the_page() -> None:
    page = render_html([make_report(LOCAL)])
    for clause in CLAUSES:
        anchor = "-".join(clause.id.lower().split())
        assert f'href="#contract-{anchor}"' in page and f'id="contract-{anchor}"' in page, clause.id
        assert clause.link in page, "the list names the clause's place in docs/contract.md"
    assert 'href="http' not in page, "nothing links out of the page"


def test_bodies_are_escaped_and_keep_their_unicode() -> None:
    page = render_html([make_report(STAGING)], failures={"failures/A1-1.json": make_replay()})
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; \\&quot;quoted\\&quot; &amp; Zoë 日本語 😀" in page
    assert NASTY.replace('"', '\\"') in page_text(page), "the reader sees the body as it was sent"


def test_every_verdict_gets_its_colour_and_its_word() -> None:
    report = make_report(STAGING, {"A2": "inconclusive", "A3": "not-run", "A4": "bogus\"><b>"})
    page = render_html([report])
    assert cell_verdicts(page)[:4] == ["fail", "inconclusive", "not-run", "unknown"]
    text = page_text(page)
    for word in ("A1 No record has the matching value: created, 201, a new id D fail 3 tests · 30 examples",
                 "A2 A record has the matching value: updated, 200, the same id D inconclusive",
                 "D/R not-run", "bogus\"><b>"):
        assert word in text
    assert "1,410 requests" in text
    assert "v-bogus" not in page, "an unknown verdict never becomes a class name"


def test_two_targets_mark_the_clauses_that_differ() -> None:
    first = make_report(STAGING)
    second = make_report(LOCAL, {"A5": "inconclusive"}, failing=False)
    replays = {"0/failures/A1-1.json": make_replay(), "1/failures/A1-1.json": make_replay({"other": "target"})}
    page = render_html([first, second], failures=replays)
    text = page_text(page)
    assert f"Clause Title Tag {STAGING} {LOCAL} Differs" in text
    assert "2 of 20 clauses differ between the targets." in text
    assert page.count("≠ differs") == 2 and page.count("<tr class=differs>") == 2
    assert re.search(r"<tr class=differs><th class=\"row\">(<a [^>]*>)?A1(</a>)?</th>", page)
    assert re.search(r"<tr class=differs><th class=\"row\">(<a [^>]*>)?A5(</a>)?</th>", page)
    assert f"Verdict: {STAGING}: fail {LOCAL}: pass" in text
    assert f"in the report directory of {STAGING}" in text
    assert '"other"' not in page, "only report 0 failed, so only its replay file is shown"
    assert text.count("No failures.") == 1


def test_failure_keys_are_the_replay_path_or_prefixed_with_the_report_index() -> None:
    assert failure_key(0, "failures/A1-1.json", reports=1) == "failures/A1-1.json"
    assert failure_key(1, "failures/A1-1.json", reports=2) == "1/failures/A1-1.json"
    for key in ("failures/A1-1.json", "0/failures/A1-1.json"):
        assert "PUT /crm/" in page_text(render_html([make_report(STAGING)], failures={key: make_replay()})), key
    both = [make_report(STAGING), make_report(LOCAL)]
    assert "PUT /crm/" not in page_text(render_html(both, failures={"failures/A1-1.json": make_replay()})), (
        "with several reports a bare path is ambiguous and is not used"
    )


def test_a_failure_without_its_replay_file_is_listed_from_the_report() -> None:
    text = page_text(render_html([make_report(STAGING)]))
    assert "A1: expected HTTP 201, got 200" in text
    assert "The replay file was not provided, so its requests are not shown." in text


def test_long_bodies_are_cut_with_their_length() -> None:
    page = render_html([make_report(STAGING)], failures={"failures/A1-1.json": make_replay("é" * 5000)})
    assert "Truncated: the first 2,000 of 5,000 characters are shown." in page
    assert "é" * 2000 in page and "é" * 2001 not in page


def test_a_lone_surrogate_in_a_body_still_gives_a_writable_page() -> None:
    page = render_html([make_report(STAGING)], failures={"failures/A1-1.json": make_replay("bad \ud800 char")})
    page.encode("utf-8")


def test_the_page_refers_to_nothing_outside_itself() -> None:
    replay = make_replay('<script src="https://evil.example/x.js"></script><img src="http://evil.example/p.png">')
    page = render_html([make_report(STAGING), make_report(LOCAL)], failures={"0/failures/A1-1.json": replay})
    found = markup(page)
    assert not {"script", "link", "img", "iframe", "object", "embed", "base", "form"} & set(found.tags)
    assert not [name for name, _ in found.attrs if name in {"src", "srcset", "action", "background"}]
    assert all((value or "").startswith("#") for name, value in found.attrs if name == "href"), "own anchors only"
    assert not re.search(r"url\(|@import", page, re.IGNORECASE), "no CSS fetches"
    assert "default-src &#x27;none&#x27;" in page or "default-src 'none'" in page, "a CSP forbids fetching"
    clean = render_html([make_report(STAGING), make_report(LOCAL)], failures={"0/failures/A1-1.json": make_replay()})
    rest = clean.replace(STAGING, "").replace(LOCAL, "")
    assert "http://" not in rest and "https://" not in rest, "the only URLs are the targets, shown as text"


def test_no_header_values_are_added() -> None:
    page = render_html([make_report(STAGING)], failures={"failures/A1-1.json": make_replay()})
    assert "Authorization" not in page and "Bearer" not in page


def test_no_reports_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one report"):
        render_html([])


def test_page_text_drops_markup_head_and_style() -> None:
    dom = "<html><head><title>T</title><style>p{}</style></head><body><p>a<b>b</b></p><td>c</td><td>d</td></body>"
    assert page_text(dom) == "ab c d"


def _require_chromium() -> None:
    if not browser.CHROMIUM.is_file():
        pytest.fail(f"{browser.CHROMIUM} is missing: these tests need headless Chromium (Debian package 'chromium')")


@pytest.mark.slow
def test_chromium_renders_the_failure_and_a_screenshot(tmp_path: Path) -> None:
    _require_chromium()
    page = tmp_path / "report.html"
    page.write_text(render_html([make_report(STAGING)], failures={"failures/A1-1.json": make_replay()}), "utf-8")
    screenshot = tmp_path / "report.png"
    text = render_in_chromium(page, screenshot)
    assert "A1: expected HTTP 201, got 200" in text
    assert "crm-contract replay failures/A1-1.json" in text
    assert NASTY.replace('"', '\\"') in text, "the escaped body renders as the text that was sent"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_the_check_script_reports_found_and_missing_texts(tmp_path: Path) -> None:
    _require_chromium()
    (tmp_path / "report.html").write_text(render_html([make_report(STAGING)]), "utf-8")
    script = ROOT / "scripts" / "check_report_html.py"
    screenshot = tmp_path / "shot.png"
    command = [sys.executable, str(script), str(tmp_path), "--screenshot", str(screenshot), "--expect-text", SUMMARY]
    done = subprocess.run([*command, "--expect-text", "not on the page"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stderr
    assert "missing from the page: 'not on the page'" in done.stderr
    assert "1 of 2 expected texts found" in done.stdout
    assert screenshot.stat().st_size > 0


def test_the_check_script_exits_2_without_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("check_report_html", ROOT / "scripts" / "check_report_html.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "report.html").write_text(render_html([make_report(STAGING)]), "utf-8")
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    assert module.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: Chromium not found at {tmp_path / 'no-chromium'}: install the Debian package 'chromium'"
    ]
