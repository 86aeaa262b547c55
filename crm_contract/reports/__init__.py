"""What a run leaves behind for people and tools: the report directory of `docs/report-format.md`.

`html` renders the self-contained page of one run or of several targets compared; `browser` opens a
page in headless Chromium so tests and CI see what a reader sees. Each module is one format or one
consumer; this package re-exports the names callers use.
"""

from __future__ import annotations

from crm_contract.reports.browser import BrowserError, ChromiumNotFound, page_text, render_in_chromium
from crm_contract.reports.html import failure_key, render_html

__all__ = [
    "BrowserError",
    "ChromiumNotFound",
    "failure_key",
    "page_text",
    "render_html",
    "render_in_chromium",
]
