"""Open a report page in headless Chromium: a screenshot for a person, the rendered text for a check.

Escaped markup can look right in the source and still render wrong (a stray `<` swallowing a table),
so the tests and CI look at what a browser shows. Chromium runs with a throw-away profile and every
background service off: the page must render with no network at all, and the run must leave nothing
behind. One invocation does both jobs, `--screenshot` and `--dump-dom`.
"""

from __future__ import annotations

import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["CHROMIUM", "BrowserError", "ChromiumNotFound", "page_text", "render_in_chromium"]

CHROMIUM = Path("/usr/bin/chromium")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserError(RuntimeError):
    """Chromium ran but gave no page: it failed, timed out or wrote no screenshot."""


class ChromiumNotFound(BrowserError):
    """No Chromium at the expected path (Debian package `chromium`)."""


def render_in_chromium(
    html_path: str | Path,
    screenshot_path: str | Path,
    *,
    chromium: str | Path | None = None,
    window: tuple[int, int] = (1400, 2000),
    timeout: float = 120,
) -> str:
    """Render `html_path`, write a PNG of the first `window` pixels to `screenshot_path`, return the page text.

    The text is `page_text` of the rendered DOM, so a check can look for a phrase as a reader would see
    it (the content of closed `<details>` included: a reader opens them with a click). `chromium`
    defaults to `CHROMIUM`; a missing one raises `ChromiumNotFound`, any other failure `BrowserError`.
    """
    chromium = Path(chromium or CHROMIUM)  # looked up per call, so a test can point CHROMIUM elsewhere
    if not chromium.is_file():
        raise ChromiumNotFound(f"Chromium not found at {chromium}: install the Debian package 'chromium'")
    screenshot = Path(screenshot_path).resolve()
    screenshot.unlink(missing_ok=True)  # a stale PNG must not pass for a fresh one
    with tempfile.TemporaryDirectory(prefix="crm-contract-chromium-") as profile:
        command = [
            str(chromium),
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            f"--window-size={window[0]},{window[1]}",
            "--dump-dom",
            Path(html_path).resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(f"Chromium did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise BrowserError(f"Chromium exited with {done.returncode}:\n{tail}")
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        raise BrowserError(f"Chromium wrote no screenshot to {screenshot}")
    return page_text(done.stdout)


def page_text(dom: str) -> str:
    """The text a reader sees in `dom`: tags dropped, `<head>`, `<style>` and `<script>` skipped, spaces collapsed."""
    parser = _TextParser()
    parser.feed(dom)
    parser.close()
    return " ".join("".join(parser.chunks).split())


class _TextParser(HTMLParser):
    _HIDDEN = frozenset({"style", "script", "head", "title", "template"})
    # Block boundaries separate words, as the browser shows them ("</td><td>" is not one word); inline
    # tags (b, code, a) do not.
    _BLOCKS = frozenset(
        "address article br dd details div dl dt h1 h2 h3 h4 h5 h6 hr li ol p pre section summary table td th tr ul"
        .split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)
