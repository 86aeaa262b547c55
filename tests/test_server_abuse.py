"""The reference server fed hostile input, as `crm-contract serve` (a process on loopback), the way its users
meet it: every answer is the contract's error envelope, never a 5xx or a hang, and nothing changes.

Also here: the match lookup's index, the body and head limits, a client that goes away mid-body, the
401/403 matrix of every route, and what the server's log and answers must never hold (tokens, tracebacks,
SQL). The long ones (20 rounds of races, kill -9, slow clients, the soak) are in test_server_abuse_slow.py.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from abuse_support import (
    READ_TOKEN,
    WRITE_TOKEN,
    RawAnswer,
    ServeProcess,
    all_records,
    auth,
    client,
    connect,
    new_object,
    raw_request,
    read_answer,
)
from crm_contract.reference_server import Store

SLUG = "abuse"
ATTRIBUTES = [{"label": "Sku", "type": "text", "isUnique": True}, {"label": "Name", "type": "text"},
              {"label": "Qty", "type": "number"}]
MAX_ERROR_BODY = 8 * 1024  # an error answer echoes its input within bounds (a 10 KB slug is not echoed whole)
SECRETS = (WRITE_TOKEN, READ_TOKEN)
LEAKS = ("Traceback", "File \"", "sqlite", "SELECT ", "INSERT ", "OperationalError")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    folder = tmp_path_factory.mktemp("abuse")
    with ServeProcess(folder / "serve.log", db=folder / "crm.db", extra=["--access-log"]) as running:
        with client(running.base_url) as http:
            new_object(http, SLUG, ATTRIBUTES)
            seeded = http.put(f"/crm/{SLUG}", params={"matchingAttribute": "sku"}, json={"sku": "A-1", "name": "one"})
            assert seeded.status_code == 201, seeded.text
        yield running


def snapshot(server: ServeProcess) -> tuple[Any, ...]:
    """Everything a hostile request could change: the objects with their attributes, the records."""
    with client(server.base_url) as http:
        objects = http.get("/crm/objects").json()["objects"]
        return json.dumps(objects, sort_keys=True), json.dumps(all_records(http, SLUG), sort_keys=True)


def refused(answer: RawAnswer, *statuses: int) -> dict[str, Any]:
    """`answer` is an error envelope with one of `statuses`, small, and free of secrets and internals."""
    assert answer.status in statuses, f"expected {statuses}, got {answer.status}: {answer.body[:300]!r}"
    envelope = answer.envelope()
    assert len(answer.body) <= MAX_ERROR_BODY, f"a {len(answer.body):,}-byte error body"
    text = answer.body.decode("utf-8", "replace")
    assert not any(leak in text for leak in (*SECRETS, *LEAKS)), text[:500]
    return envelope


def request_head(method: str, target: str, body: bytes, content_type: str | None = "application/json",
                 token: str | None = WRITE_TOKEN) -> str:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}", "Connection: close"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return "\r\n".join(lines)


def send(server: ServeProcess, method: str, target: str, body: bytes = b"", **options: Any) -> RawAnswer:
    return raw_request(server.port, request_head(method, f"/v2{target}", body, **options), body, timeout=15)


# The match lookup --------------------------------------------------------------------------------

def test_the_match_lookup_searches_the_index_instead_of_scanning() -> None:
    plan = Store().query_plan("products")
    assert any("USING COVERING INDEX values_lookup" in step for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan


# Hostile bodies ----------------------------------------------------------------------------------

ASSERT = f"/crm/{SLUG}?matchingAttribute=sku"
DEEP = b'{"sku": "A-1", "name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
MANY_KEYS = json.dumps({"sku": "A-1", **{f"k{n}": n for n in range(10_000)}}).encode()
LONG = "k" * 10_000
HOSTILE_BODIES: dict[str, tuple[bytes, str | None, tuple[int, ...]]] = {
    "1 MB of unknown attribute": (json.dumps({"sku": "A-1", "junk": "x" * 999_950}).encode(), "application/json",
                                  (400,)),
    "JSON nested 100,000 deep": (DEEP, "application/json", (400,)),
    "invalid UTF-8": (b'{"sku": "A-1", "name": "\xff\xfe"}', "application/json", (400,)),
    "a JSON array": (b'[{"sku": "A-1", "name": "changed"}]', "application/json", (400,)),
    "a JSON number": (b"42", "application/json", (400,)),
    "a JSON string": (b'"sku"', "application/json", (400,)),
    "JSON as text/plain": (b'{"sku": "A-1", "name": "changed"}', "text/plain", (415,)),
    "JSON as a form": (b'{"sku": "A-1", "name": "changed"}', "application/x-www-form-urlencoded", (415,)),
    "duplicate keys": (b'{"sku": "A-1", "name": "first", "name": "second"}', "application/json", (400,)),
    "NaN": (b'{"sku": "A-1", "qty": NaN}', "application/json", (400,)),
    "Infinity": (b'{"sku": "A-1", "qty": Infinity}', "application/json", (400,)),
    "-Infinity": (b'{"sku": "A-1", "qty": -Infinity}', "application/json", (400,)),
    "10,000 attributes": (MANY_KEYS, "application/json", (400,)),
    "a 10 KB key": (json.dumps({"sku": "A-1", LONG: 1}).encode(), "application/json", (400,)),
    "a lone surrogate": (b'{"sku": "A-1", "name": "\\ud800"}', "application/json", (400,)),
}


@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
def test_a_hostile_body_is_refused_with_the_envelope_and_changes_nothing(server: ServeProcess, case: str) -> None:
    body, content_type, statuses = HOSTILE_BODIES[case]
    before = snapshot(server)
    for method, target in [("PUT", ASSERT), ("POST", f"/crm/{SLUG}")]:
        refused(send(server, method, target, body, content_type=content_type), *statuses)
    assert snapshot(server) == before, f"{case}: a refused request changed the store"


def test_a_body_over_the_limit_gets_413_before_it_is_sent(server: ServeProcess) -> None:
    """Content-Length alone decides: the server answers without waiting for (or reading) a byte of it."""
    before = snapshot(server)
    for size in (10_000_000, 100_000_000):
        head = request_head("PUT", f"/v2{ASSERT}", b"") .replace("Content-Length: 0", f"Content-Length: {size}")
        started = time.monotonic()
        with connect(server.port) as sock:
            sock.sendall(head.encode() + b"\r\n\r\n")
            answer = read_answer(sock, timeout=10)
        refused(answer, 413)
        assert time.monotonic() - started < 5, "the 413 waited for the body"
    # An unknown object too: 413 at once, not a 404 after reading 100 MB.
    head = request_head("PUT", "/v2/crm/no-such-object?matchingAttribute=sku", b"")
    with connect(server.port) as sock:
        sock.sendall(head.replace("Content-Length: 0", "Content-Length: 100000000").encode() + b"\r\n\r\n")
        refused(read_answer(sock, timeout=10), 413)
    assert snapshot(server) == before


def test_a_chunked_body_is_cut_off_at_the_limit(server: ServeProcess) -> None:
    """No Content-Length to go by: the server counts as it reads and answers 413 once past the limit."""
    head = "\r\n".join([f"PUT /v2{ASSERT} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked",
                        "Content-Type: application/json", f"Authorization: Bearer {WRITE_TOKEN}"])
    chunk = b"x" * 65536
    answer = None
    with connect(server.port) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n")
        try:
            for _ in range(100):  # up to 6.5 MB; the limit is 1 MiB
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_answer(sock, timeout=10)
    refused(answer, 413)


def test_max_body_raises_the_limit(tmp_path: Path) -> None:
    body = json.dumps({"sku": "B-1", "name": "y" * 1_500_000}).encode()
    with ServeProcess(tmp_path / "serve.log", extra=["--max-body", "2MB"]) as bigger:
        with client(bigger.base_url) as http:
            new_object(http, SLUG, ATTRIBUTES)
        read = refused(send(bigger, "PUT", ASSERT, body), 400)  # read and judged: text is at most 255 long
        assert set(read.get("errors", {})) == {"name"}, read
        refused(send(bigger, "PUT", ASSERT, body + b" " * 600_000), 413)


# Hostile URLs and heads ------------------------------------------------------------------------

def test_a_1_mb_query_string_gets_414_as_an_envelope(server: ServeProcess) -> None:
    refused(send(server, "GET", f"/crm/{SLUG}?page=1&q={'a' * 1_000_000}"), 414)


def test_a_1_mb_header_gets_431_as_an_envelope(server: ServeProcess) -> None:
    head = request_head("GET", f"/v2/crm/{SLUG}", b"") + "\r\nX-Padding: " + "p" * 1_000_000
    refused(raw_request(server.port, head, timeout=15), 431)


def test_a_request_that_is_not_http_gets_400_as_an_envelope(server: ServeProcess) -> None:
    with connect(server.port) as sock:
        sock.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
        refused(read_answer(sock, timeout=10), 400)


LONG_SLUG = "s" * 10_000
SQL = "x'; DROP TABLE records; --"
META = [SQL, '" OR 1=1 --', "..%2F..%2Fetc%2Fpasswd", "%00", "a%00b", "%25%32%46", "..%2f"]
ROUTES = [  # (method, path template, body): the body is valid so that only the hostile part is refused
    ("GET", "/crm/objects/{slug}", b""),
    ("PATCH", "/crm/objects/{slug}", b'{"singularName": "Changed"}'),
    ("DELETE", "/crm/objects/{slug}", b""),
    ("POST", "/crm/objects/{slug}/attributes", b'{"label": "Extra", "type": "text", "isRequired": false}'),
    ("PATCH", "/crm/objects/{slug}/attributes/{key}", b'{"label": "Changed"}'),
    ("GET", "/crm/{slug}", b""),
    ("POST", "/crm/{slug}", b'{"sku": "C-1"}'),
    ("PUT", "/crm/{slug}?matchingAttribute={key}", b'{"sku": "C-1"}'),
    ("GET", "/crm/{slug}/{id}", b""),
    ("PATCH", "/crm/{slug}/{id}", b'{"name": "changed"}'),
    ("DELETE", "/crm/{slug}/{id}", b""),
]


def hostile_targets(value: str) -> Iterator[tuple[str, str, bytes]]:
    """Every route with `value` in each of its path and query parameters, one at a time."""
    for method, template, body in ROUTES:
        for slot in ("slug", "key", "id"):
            if "{" + slot + "}" in template:
                fill = {"slug": SLUG, "key": "sku", "id": "00000000-0000-4000-8000-000000000000", slot: value}
                yield method, template.format(**fill), body
    for param in ("page", "count", "matchingAttribute"):
        yield "GET" if param != "matchingAttribute" else "PUT", f"/crm/{SLUG}?{param}={value}", b'{"sku": "C-1"}'


@pytest.mark.parametrize("value", [*META, LONG_SLUG], ids=[*META, "a 10 KB slug"])
def test_meta_characters_in_every_path_and_query_parameter_are_refused(server: ServeProcess, value: str) -> None:
    before = snapshot(server)
    for method, target, body in hostile_targets(value.replace(" ", "%20").replace('"', "%22")):
        answer = send(server, method, target, body)
        assert 400 <= answer.status < 500 and answer.status not in (401, 403), f"{method} {target[:80]}: {answer}"
        refused(answer, answer.status)
    assert snapshot(server) == before


def test_a_client_that_leaves_mid_body_is_not_an_error(server: ServeProcess) -> None:
    log_before = server.log.read_text()
    for _ in range(3):
        with connect(server.port) as sock:
            sock.sendall(request_head("PUT", f"/v2{ASSERT}", b"").replace("Content-Length: 0", "Content-Length: 1000")
                         .encode() + b"\r\n\r\n" + b'{"sku": "A-')
            time.sleep(0.2)
    time.sleep(0.5)
    with client(server.base_url) as http:  # and the server is still there
        assert http.get(f"/crm/{SLUG}").status_code == 200
    logged = server.log.read_text()[len(log_before):]
    assert "Traceback" not in logged and "500" not in logged, logged[-3000:]


# Tokens ------------------------------------------------------------------------------------------

EVERY_ROUTE = [(method, template.format(slug=SLUG, key="sku", id="00000000-0000-4000-8000-000000000000"), body)
               for method, template, body in [("GET", "/crm/objects", b""),
                                              ("POST", "/crm/objects", b'{"slug": "x", "singularName": "X",'
                                                                        b' "pluralName": "Xs"}'),
                                              *ROUTES, ("GET", "/crm/no/such/route", b""),
                                              ("POST", "/crm/{slug}/{id}", b"{}")]]
WRITE_ROUTES = [route for route in EVERY_ROUTE if route[0] != "GET" and "no/such" not in route[1]]


def test_tokens_are_checked_on_every_route_and_never_shown(tmp_path: Path) -> None:
    one_off = WRITE_TOKEN[:-1] + chr(ord(WRITE_TOKEN[-1]) ^ 1)
    wrong = {"no token": None, "a wrong token": "not-a-token", "a token one character off": one_off,
             "a prefix of the token": WRITE_TOKEN[:-1], "the token and more": WRITE_TOKEN + "x"}
    with ServeProcess(tmp_path / "serve.log", extra=["--access-log"]) as running:
        with client(running.base_url) as http:
            new_object(http, SLUG, ATTRIBUTES)
        before = snapshot(running)
        answers: list[RawAnswer] = []
        for what, token in wrong.items():
            for method, target, body in EVERY_ROUTE:
                answer = send(running, method, target, body, token=token)
                assert answer.status == 401, f"{what}: {method} {target} gave {answer.status}"
                answers.append(answer)
        for method, target, body in WRITE_ROUTES:
            answer = send(running, method, target, body, token=READ_TOKEN)
            assert answer.status == 403, f"read-only token: {method} {target} gave {answer.status}"
            answers.append(answer)
        assert snapshot(running) == before
        for answer in answers:
            refused(answer, answer.status)
            assert not any(secret in value for secret in SECRETS for value in answer.headers.values())
    log = running.log.read_text()
    assert "GET /v2/crm/objects" in log, "the access log was on: it should show the requests"
    for secret in (*SECRETS, one_off):
        assert secret not in log, "a token reached the server's log"
    assert "Traceback" not in log


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every known token is compared, with hmac.compare_digest, whatever is offered: no early exit."""
    import hmac

    from crm_contract.reference_server import access

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counted(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", counted)
    tokens = access.Tokens({"first-token": ["crm:read", "crm:write"], "second-token": ["crm:read"]})
    for offered in ("first-token", "second-token", "first-tokeX", "", "x" * 1000):
        calls.clear()
        tokens._granted(offered)
        assert len(calls) == 2, f"{offered!r}: {len(calls)} comparisons"
        assert all(len(a) == len(b) == 32 for a, b in calls), "compared as fixed-length digests"


def test_serve_listens_on_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    with ServeProcess(tmp_path / "serve.log") as running:
        try:
            address = socket.gethostbyname(socket.gethostname())
        except OSError:
            address = "127.0.0.1"
        if not address.startswith("127."):  # another address of this machine: nothing listens there
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{address}:{running.port}/v2/crm/objects", headers=auth(), timeout=2)
    greeting = running.log.read_text()
    assert "127.0.0.1 only (loopback" in greeting, greeting
