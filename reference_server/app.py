"""The reference server: a Starlette app factory serving sections 1–6 of the contract under `/v2`."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import objects
from .access import RateLimiter, Tokens
from .choices import CHOICES, Choices, get_choices
from .errors import ApiError, error_response
from .faults import get_fault
from .records import Records, record_json
from .rules import Rules
from .store import BUSY_WAIT_SECONDS, ObjectDef, RecordRow, Store, StoreBusy
from .wire import Body, BodyLimits, ClientDisconnect, query_int, read_body, success

__all__ = ["create_app"]

log = logging.getLogger("reference_server")
Handler = Callable[[Request, "Crm", Body], Response]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _AnyMethod(dict[str, "Handler"]):
    """Handlers of the catch-all route: one handler whatever the method."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler

    def get(self, method: str, default: Handler | None = None) -> Handler:  # type: ignore[override]
        return self.handler


@dataclass
class Crm:
    """What every handler needs: the store, and the rules (the contract's, unless a fault changed one)."""

    store: Store
    rules: Rules = field(default_factory=Rules)
    choices: Choices = field(default_factory=lambda: CHOICES["reference"])
    read_cache: dict[str, dict[str, Any]] = field(default_factory=dict)

    def object(self, slug: str, missing_status: int = 404) -> ObjectDef:
        obj = self.store.get_object(slug)
        if obj is None:
            raise ApiError(missing_status, f"No object with the slug '{slug}'.")
        return obj

    def custom_object(self, slug: str) -> ObjectDef:
        """An object whose records this server serves: people and companies are out of scope."""
        obj = self.object(slug, self.rules.unknown_object_status)
        if obj.is_standard:
            raise ApiError(404, f"Records of the standard object '{slug}' are not served here.")
        return obj

    def records(self, obj: ObjectDef) -> Records:
        return Records(self.store, obj, self.rules)

    def record(self, obj: ObjectDef, record_id: str) -> RecordRow:
        record = self.store.get_record(obj.slug, record_id)
        if record is None:
            raise ApiError(404, f"No record with the id '{record_id}' in '{obj.slug}'.")
        return record


# Objects and attributes ---------------------------------------------------------------------------

def list_objects(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction():
        return success(200, objects=[objects.object_json(obj) for obj in crm.store.list_objects()])


def create_object(request: Request, crm: Crm, body: Body) -> Response:
    fields = body.object()
    with crm.store.transaction() as store:
        return success(201, object=objects.object_json(objects.create_object(store, fields)))


def get_object(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction():
        return success(200, object=objects.object_json(crm.object(request.path_params["slug"])))


def update_object(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction() as store:
        obj = crm.object(request.path_params["slug"])
        fields = body.object()
        return success(200, object=objects.object_json(objects.update_object(store, obj, fields)))


def delete_object(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction() as store:
        obj = crm.object(request.path_params["slug"])
        if obj.is_standard:
            raise ApiError(403, f"The standard object '{obj.slug}' cannot be deleted.")
        store.delete_object(obj.slug)
        return success(200, message="Object deleted.")


def create_attribute(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction() as store:
        obj = crm.object(request.path_params["slug"])
        fields = body.object()
        return success(201, attribute=objects.attribute_json(objects.create_attribute(store, obj, fields)))


def update_attribute(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction() as store:
        obj = crm.object(request.path_params["slug"])
        attr = obj.attribute(request.path_params["key"])
        if attr is None:
            raise ApiError(404, f"No attribute '{request.path_params['key']}' on '{obj.slug}'.")
        fields = body.object()
        removed = objects.update_attribute(store, obj, attr, fields)
        if removed:
            crm.records(obj).clear_options(attr.key, removed)
        return success(200, attribute=objects.attribute_json(attr))


# Records ------------------------------------------------------------------------------------------

def list_records(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction() as store:
        obj = crm.custom_object(request.path_params["slug"])
        count = query_int(request, "count", 20, 1, 100)
        page = query_int(request, "page", 1, 1)
        total = store.count_records(obj.slug)
        if crm.rules.list_cap is not None:  # a fault: the list stops at a total
            total = min(total, crm.rules.list_cap)
        offset = max(0, crm.rules.page_offset(page, count))
        rows = store.list_records(obj.slug, offset, min(count, total - offset), crm.rules.list_newest_first) \
            if offset < total else []
        pages = math.ceil(total / count)
        link = f"/crm/{obj.slug}?page={{}}&count={count}"
        pagination = {
            "total": total, "count": len(rows), "totalPages": pages, "currentPage": page,
            "previousPage": link.format(page - 1) if page > 1 else None,
            "nextPage": link.format(page + 1) if page < pages else None,
        }
        return success(200, collection=[record_json(obj, row) for row in rows], pagination=pagination)


def create_record(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction():
        obj = crm.custom_object(request.path_params["slug"])
        fields = body.object()
        return success(201, record=record_json(obj, crm.records(obj).create(fields)))


def assert_record(request: Request, crm: Crm, body: Body) -> Response:
    matching = request.query_params.get("matchingAttribute")
    found = None
    if crm.rules.lookup_pause:  # a fault: the lookup commits, other requests run, then the write
        with crm.store.transaction():
            writes = crm.records(crm.custom_object(request.path_params["slug"]))
            writes.check_matching_attribute(matching)
            found = writes.matches(matching, writes.validated(body.object()))
        time.sleep(crm.rules.lookup_pause)
    seen_last = None
    if crm.rules.lose_concurrent_creates:  # a fault: read the object's records, then write them all back
        with crm.store.transaction() as store:
            seen_last = store.last_seq(crm.custom_object(request.path_params["slug"]).slug)
        time.sleep(0.005)
    with crm.store.transaction() as store:
        obj = crm.custom_object(request.path_params["slug"])
        fields = body.object()
        record, created = crm.records(obj).assert_(matching, fields, found)
        if created and seen_last is not None:  # what others created meanwhile is not in what it writes back
            for lost in store.records_after(obj.slug, seen_last):
                if lost.seq != record.seq:
                    store.delete_record(lost)
        status = crm.rules.create_status if created else crm.rules.update_status
        return success(status, record=record_json(obj, record))


def get_record(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction():
        obj = crm.custom_object(request.path_params["slug"])
        record_id = request.path_params["id"]
        if crm.rules.cache_reads and record_id in crm.read_cache:  # a fault: never invalidated
            return success(200, record=crm.read_cache[record_id])
        shown = record_json(obj, crm.record(obj, record_id))
        if crm.rules.cache_reads:
            crm.read_cache[record_id] = shown
        return success(200, record=shown)


def patch_record(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction():
        obj = crm.custom_object(request.path_params["slug"])
        record = crm.record(obj, request.path_params["id"])
        fields = body.object()
        return success(200, record=record_json(obj, crm.records(obj).patch(record, fields)))


def delete_record(request: Request, crm: Crm, body: Body) -> Response:
    with crm.store.transaction() as store:
        obj = crm.custom_object(request.path_params["slug"])
        record = store.get_record(obj.slug, request.path_params["id"])
        if record is not None:
            store.delete_record(record, soft=crm.rules.soft_delete)
        elif crm.rules.delete_unknown_status == 404:
            crm.record(obj, request.path_params["id"])  # raises the 404
        return success(200, message="Record deleted.")


def unknown_route(request: Request, crm: Crm, body: Body) -> Response:
    raise ApiError(404, f"No route {request.url.path}.")


# Assembly -----------------------------------------------------------------------------------------

ROUTES: list[tuple[str, dict[str, Handler]]] = [
    ("/v2/crm/objects", {"GET": list_objects, "POST": create_object}),
    ("/v2/crm/objects/{slug}", {"GET": get_object, "PATCH": update_object, "DELETE": delete_object}),
    ("/v2/crm/objects/{slug}/attributes", {"POST": create_attribute}),
    ("/v2/crm/objects/{slug}/attributes/{key}", {"PATCH": update_attribute}),
    ("/v2/crm/{slug}", {"GET": list_records, "POST": create_record, "PUT": assert_record}),
    ("/v2/crm/{slug}/{id}", {"GET": get_record, "PATCH": patch_record, "DELETE": delete_record}),
]


class _Endpoint:
    """Checks in the contract's order (429, 401, 403, 405), then the body's limits, then the handler.

    An ASGI app rather than a function, so that Starlette routes *every* method here (TRACE included)
    instead of answering an unlisted one with its own plain-text 405 before authentication. The handler
    and every SQLite call run in a worker thread: a slow store or a large body never stalls the event
    loop, so other clients (and their 401s) keep their usual latency.
    """

    def __init__(self, handlers: Mapping[str, Handler], crm: Crm, tokens: Tokens,
                 limiter: RateLimiter | None, limits: BodyLimits) -> None:
        self.handlers, self.crm, self.tokens, self.limiter = handlers, crm, tokens, limiter
        self.limits = limits
        self.allow = ", ".join(handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.respond(request)
        except ClientDisconnect:  # the client went away mid-body: nobody is left to answer
            log.info("%s %s: the client disconnected before its body was sent", request.method, request.url.path)
            return
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        try:
            if self.limiter is not None:
                self.limiter.check()
            self.tokens.check(request)
            handler = self.handlers.get(request.method)
            if handler is None:
                raise ApiError(405, f"{request.method} is not allowed here; allowed: {self.allow}.",
                               headers={"Allow": self.allow}, kind="method")
            body = await read_body(request, self.limits) if request.method in _BODY_METHODS else Body(b"")
        except ApiError as error:
            refused = self.error_response(error)
            if not self.crm.choices.alternative:
                return refused
            return await anyio.to_thread.run_sync(self.shown, request, refused)
        return await anyio.to_thread.run_sync(self.handled, handler, request, body)

    def handled(self, handler: Handler, request: Request, body: Body) -> Response:
        if body.raw:
            body.parse()  # here, not under the store's lock inside the handler
        try:
            response = handler(request, self.crm, body)
        except ApiError as error:
            response = self.error_response(error)
        except StoreBusy:
            return self.busy()
        return self.shown(request, response)

    def shown(self, request: Request, response: Response) -> Response:
        try:
            return self.presented(request, response)
        except StoreBusy:
            return self.busy()

    def error_response(self, error: ApiError) -> Response:
        status = self.crm.choices.status_of(error)
        if status != error.status:  # another code for an [R] error: its headers (Allow) were the old code's
            error.status, error.headers = status, None
        return error_response(error)

    @staticmethod
    def busy() -> Response:
        log.warning("the database stayed locked for %.0f s; answered 503", BUSY_WAIT_SECONDS)
        return error_response(ApiError(503, "The store is busy (another process holds its database file); retry later.",
                                       headers={"Retry-After": "1"}))

    def presented(self, request: Request, response: Response) -> Response:
        """The answer as the server's `Choices` show it: unchanged for the reference choices."""
        choices = self.crm.choices
        if not choices.alternative or not isinstance(response, JSONResponse):
            return response
        with self.crm.store.transaction() as store:
            body = choices.present(json.loads(bytes(response.body)), store, request.url.path)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return JSONResponse(body, status_code=response.status_code, headers=headers)


class _KeepEncodedSlashes:
    """Route on the path as sent: `%2F` inside a segment stays part of it (`/crm/a%2Fb` names `a%2Fb`).

    ASGI servers decode the path before routing, which would turn one unknown slug into two segments.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and raw and b"%2f" in raw.lower():
            text = raw.decode("latin-1").replace("%2F", "%252F").replace("%2f", "%252f")
            scope = dict(scope, path=unquote(text))
        await self.app(scope, receive, send)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"success": False, "status": 500, "message": "Internal server error."}, status_code=500)


def create_app(db_path: str = ":memory:", tokens: Mapping[str, Iterable[str]] | None = None,
               fault: str | None = None, rate_limit: float | None = None, *,
               store: Store | None = None, choices: str | None = None,
               body_limits: BodyLimits | None = None) -> Starlette:
    """The reference server. `tokens` maps a bearer token to its scopes (default: one write token).

    `choices` (reference_server.choices): "reference" (the default) or "alternative", another honest set
    of choices where the contract's rules are [R]. `body_limits`: the largest body and the longest wait for
    one (default: 1 MiB within 30 s).
    """
    rules = Rules()
    chosen_choices = get_choices(choices)
    chosen_choices.apply(rules)
    chosen = get_fault(fault)
    if chosen is not None:
        chosen.apply(rules)
    crm = Crm(store if store is not None else Store(db_path), rules, chosen_choices)
    with crm.store.transaction() as opened:
        objects.ensure_standard_objects(opened)
    access = Tokens(tokens, require_token=rules.require_token, enforce_scopes=rules.enforce_scopes)
    limiter = RateLimiter(rate_limit) if rate_limit is not None else None
    limits = body_limits or BodyLimits()
    routes = [Route(path, _Endpoint(handlers, crm, access, limiter, limits)) for path, handlers in ROUTES]
    routes.append(Route("/{path:path}", _Endpoint(_AnyMethod(unknown_route), crm, access, limiter, limits)))
    app = Starlette(routes=routes, exception_handlers={Exception: _server_error},
                    middleware=[Middleware(_KeepEncodedSlashes)])
    app.state.crm = crm
    return app
