"""Every exchange of a run as HAR 1.2, written as the run goes (the file is complete when the run ends).

HAR viewers (browsers' dev tools, Charles, Fiddler, har-to-curl) read it. The kit keeps what a check
needs of each exchange: method, URL, the JSON sent and answered, the status, and which token was
sent; timings and the other headers are not kept, so they are left empty. Everything written goes
through the run's `Redactor`: tokens and secret header values never reach the file.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from crm_contract.kit.client import NO_BODY, Exchange
from crm_contract.kit.redaction import Redactor

__all__ = ["HarWriter"]


class HarWriter:
    """Appends one HAR entry per exchange to `path`; `close` ends the document."""

    def __init__(self, path: Path, version: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()  # exchanges come from several threads at once (the A11 test's callers)
        self._file: IO[str] | None = path.open("w", encoding="utf-8")
        self._first = True
        self.origin = ""  # scheme://host:port of the target, once it is known
        self.redactor = Redactor([])
        creator = {"name": "crm-contract", "version": version}
        self._file.write('{"log": {"version": "1.2", "creator": ' + json.dumps(creator) + ', "entries": [\n')

    def add(self, exchange: Exchange) -> None:
        if self._file is None:
            return
        self.add_entry(self.redactor.data(self.entry(exchange)))

    def add_entry(self, entry: dict[str, Any]) -> None:
        """An entry as it stands (redacted already): a pytest-xdist worker's, joined into the run's file."""
        text = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            if self._file is None:
                return
            self._file.write(("" if self._first else ",\n") + text)
            self._first = False

    def entry(self, exchange: Exchange) -> dict[str, Any]:
        url = f"{self.origin}{exchange.path}"
        query = [{"name": name, "value": value} for name, value in parse_qsl(urlsplit(url).query)]
        headers = [{"name": "Authorization", "value": exchange.authorization}] if exchange.authorization else []
        request: dict[str, Any] = {"method": exchange.method, "url": url, "httpVersion": "HTTP/1.1",
                                   "headers": headers, "queryString": query, "cookies": [], "headersSize": -1,
                                   "bodySize": 0}
        if exchange.request_body is not NO_BODY:
            sent = json.dumps(exchange.request_body, ensure_ascii=False)
            request["postData"] = {"mimeType": "application/json", "text": sent}
            request["bodySize"] = len(sent.encode())
        answered = exchange.response_body if isinstance(exchange.response_body, str) else json.dumps(
            exchange.response_body, ensure_ascii=False)
        kind = "text/plain" if isinstance(exchange.response_body, str) else "application/json"
        response = {"status": exchange.status, "statusText": "", "httpVersion": "HTTP/1.1", "headers": [],
                    "cookies": [], "content": {"size": len(answered.encode()), "mimeType": kind, "text": answered},
                    "redirectURL": "", "headersSize": -1, "bodySize": len(answered.encode())}
        comment = f"sent again after {', '.join(exchange.faults)}" if exchange.faults else ""
        return {"startedDateTime": datetime.now(UTC).isoformat(timespec="milliseconds"), "time": 0,
                "request": request, "response": response, "cache": {},
                "timings": {"send": 0, "wait": 0, "receive": 0}, "comment": comment}

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write("\n]}}\n")
                self._file.close()
                self._file = None
