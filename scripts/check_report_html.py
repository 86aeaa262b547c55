"""Check a report directory's `report.html` the way a reader sees it: rendered by headless Chromium.

    python scripts/check_report_html.py DIR [--expect-text TEXT ...] [--screenshot PNG]

Exit 0 when the page rendered, the screenshot is a non-empty file and every expected text is in the
page text; 1 otherwise; 2 when Chromium is missing. CI runs it after a run with a known failure, so a
page that escapes badly or drops a section fails the build instead of a reader's morning.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from crm_contract.reports.browser import BrowserError, ChromiumNotFound, render_in_chromium


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", type=Path, metavar="DIR", help="a report directory holding report.html")
    parser.add_argument("--expect-text", action="append", default=[], metavar="TEXT",
                        help="text the rendered page must show (repeatable)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="where to keep the screenshot (default: a temporary file, removed afterwards)")
    args = parser.parse_args(argv)

    page = args.report_dir / "report.html"
    if not page.is_file():
        print(f"error: no report.html in {args.report_dir}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="check-report-html-") as scratch:
        screenshot = args.screenshot or Path(scratch) / "report.png"
        try:
            text = render_in_chromium(page, screenshot)
        except ChromiumNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except BrowserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        size = screenshot.stat().st_size
    missing = [expected for expected in args.expect_text if " ".join(expected.split()) not in text]
    for expected in missing:
        print(f"missing from the page: {expected!r}", file=sys.stderr)
    kept = f" at {args.screenshot}" if args.screenshot else ""
    print(f"{page}: rendered, screenshot {size:,} bytes{kept}, {len(args.expect_text) - len(missing)} of "
          f"{len(args.expect_text)} expected texts found")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
