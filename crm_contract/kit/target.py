"""The target: the API under test, built and validated once, the only maker of HTTP clients, and the pre-flight.

A `Target` is a value: the base URL (checked once, where it is built), the write and read-only tokens,
the contract profile, an existing object to assert into, the request timeout, extra headers, and the
TLS and proxy settings. Every part of the kit that talks to a target (the suite, the pre-flight, the
clean-up of a run, `sweep`, `compare`, `replay`, the kill matrix) gets its `httpx.Client` from
`Target.client`, and its faults handled by `crm_contract.kit.client.ContractClient`, the one retry and
rate-limit policy.

`preflight` asks ``GET /crm/objects`` with each token, and the object of ``--object``, before any test
runs, so that a wrong URL, token or object reads as a set-up error (`TargetUnusable`, exit 2), while a
target that is there but keeps answering 429, 5xx or nothing is busy, not misconfigured: its requests
are sent again as the suite's are, and if that goes on the pre-flight raises `TargetInconclusive`
(exit 3). A run hands its target to the suite's process already checked (`save` and `load`), so a URL
is validated, and the target probed, once per run.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crm_contract.errors import TargetUnusable, UsageError

if TYPE_CHECKING:
    import httpx

    from crm_contract.contract_tests.expectations import Expectations
    from crm_contract.kit.traffic import Traffic
    from crm_contract.strategies import ObjectDefinition

__all__ = [
    "CONTRACT_PROFILES", "DEFAULT_TIMEOUT", "HEADERS_ENV", "READ_SCOPES", "READ_TOKEN_ENV", "TOKEN_ENV", "WRITE_SCOPES",
    "Target", "TargetUnusable", "check_url", "embedded_tokens", "parse_headers", "parse_tls_verify", "secret_header",
]

CONTRACT_PROFILES = ("strict", "documented")
DEFAULT_TIMEOUT = 15.0
TOKEN_ENV, READ_TOKEN_ENV = "ZEEG_API_TOKEN", "ZEEG_API_READ_TOKEN"
HEADERS_ENV = "CRM_CONTRACT_SECRET_HEADERS"  # the values of credential headers, handed to the suite's process
# Header names whose values are credentials wherever they appear (lower case), and words that make one so.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
CREDENTIAL_WORDS = ("token", "secret", "key", "auth", "password", "session", "signature")
READ_SCOPES = frozenset({"crm:read"})
WRITE_SCOPES = frozenset({"crm:read", "crm:write"})


def check_url(url: str, option: str = "--base-url", *, alternatives: str = "") -> str:
    """`url` without a trailing slash, if it is an http(s) URL with a host and a numeric port; else UsageError.

    `alternatives` names what else the option takes, for the message (e.g. " or 'reference'").
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{option} must be an http:// or https:// URL{alternatives}, not {url!r}")
    return url.rstrip("/")


@dataclass(frozen=True)
class Target:
    """The API under test: where it is, how to reach it and authenticate, and which contract profile applies."""

    base_url: str
    token: str = field(repr=False)
    read_token: str | None = field(default=None, repr=False)
    contract_profile: str = "strict"
    object_slug: str | None = None
    matching_attribute: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request, after the kit's own
    verify: bool | str = True  # TLS: verify certificates (or a CA bundle's path)
    proxy: str | None = None  # None: the standard proxy variables (HTTPS_PROXY, NO_PROXY, ...) apply
    cert: tuple[str, str] | None = None  # a client certificate and its key (mutual TLS)
    secret_headers: frozenset[str] = frozenset()  # header names, lower case, whose values are redacted too
    embedded: bool = False  # the reference server a run started for itself
    traffic: Traffic | None = field(default=None, repr=False, compare=False)
    # The objects the run made, by slug (filled by the workspace), for replay files to recreate.
    definitions: dict[str, ObjectDefinition] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_options(cls, base_url: str, token: str | None, read_token: str | None = None, *,
                     contract_profile: str | None = None, object_slug: str | None = None,
                     matching_attribute: str | None = None, timeout: float | None = None,
                     headers: Mapping[str, str] | None = None, verify: bool | str = True,
                     proxy: str | None = None, cert: tuple[str, str] | None = None,
                     secret_headers: frozenset[str] = frozenset(), url_alternatives: str = "") -> Target:
        """A target given by a person (options, environment): every check of the input is made here, once.

        The contract profile defaults to documented: a target of the user's is judged by what Zeeg
        documents unless they ask for more.
        """
        url = check_url(base_url, alternatives=url_alternatives)
        if not token or not token.strip():
            raise UsageError(f"a token is needed for {url}: --token or {TOKEN_ENV}")
        check_tokens(token, read_token)
        check_object(object_slug, matching_attribute)
        if contract_profile is not None and contract_profile not in CONTRACT_PROFILES:
            raise UsageError(f"the contract profile must be one of {', '.join(CONTRACT_PROFILES)}, not "
                             f"{contract_profile!r}")
        if timeout is not None and not timeout > 0:
            raise UsageError(f"--request-timeout must be more than 0 seconds, not {timeout}")
        if proxy is not None:
            check_url(proxy, "--proxy")
        if isinstance(verify, str) and not Path(verify).is_file():
            raise UsageError(f"--tls-verify {verify}: no such CA bundle file")
        for path in cert or ():
            if not Path(path).is_file():
                raise UsageError(f"no such client certificate or key file: {path}")
        return cls(url, token, read_token, contract_profile or "documented", object_slug, matching_attribute,
                   DEFAULT_TIMEOUT if timeout is None else timeout, tuple((headers or {}).items()), verify, proxy,
                   cert, frozenset(name.lower() for name in secret_headers))

    @classmethod
    def embedded_reference(cls, token: str | None = None, read_token: str | None = None, *,
                           contract_profile: str | None = None, timeout: float | None = None,
                           object_slug: str | None = None, matching_attribute: str | None = None) -> Target:
        """The embedded reference server as a target, judged by every rule (strict) unless told otherwise.

        Its base URL is empty until the server is started for it (`crm_contract.hosting.embedded.started`).
        """
        check_object(object_slug, matching_attribute)
        write_token, read_only_token = embedded_tokens(token, read_token)
        return cls("", write_token, read_only_token, contract_profile or "strict", object_slug, matching_attribute,
                   timeout=DEFAULT_TIMEOUT if timeout is None else timeout, embedded=True)

    @property
    def public_url(self) -> str:
        """The base URL as reports show it: no user info, query or fragment."""
        from crm_contract.kit.redaction import public_url

        return public_url(self.base_url)

    @property
    def secrets(self) -> list[str]:
        """What no artefact may show: the tokens, and the values of headers that are credentials."""
        hidden = [value for name, value in self.headers if self.hides(name)]
        return [secret for secret in (self.token, self.read_token, *hidden) if secret]

    def hides(self, header: str) -> bool:
        """Whether the value of `header` is a secret: a credential by its name, or marked secret."""
        return secret_header(header) or header.lower() in self.secret_headers

    @property
    def expect(self) -> Expectations:
        """What the suite's expectations mean under this target's contract profile."""
        from crm_contract.contract_tests.expectations import Expectations

        return Expectations(self.contract_profile)

    def with_traffic(self, traffic: Traffic | None) -> Target:
        return replace(self, traffic=traffic)

    # The one HTTP client ------------------------------------------------------------------------------

    def client(self, *, token: str | None = None, anonymous: bool = False) -> httpx.Client:
        """An ``httpx.Client`` for the target, sending ``token`` (default: the write token; none if `anonymous`).

        The only place the kit makes one: timeouts, extra headers, TLS and proxy settings, and the run's
        traffic hooks (the pace and the live progress) apply to every request of every part of the kit.
        """
        import httpx

        headers = {"Accept": "application/json", **dict(self.headers)}
        if not anonymous:
            headers["Authorization"] = f"Bearer {token or self.token}"
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(self.timeout, connect=min(5.0, self.timeout)),
            event_hooks=self.traffic.event_hooks() if self.traffic else None,
            verify=self._tls(),
            proxy=self.proxy,
        )

    def _tls(self) -> bool | ssl.SSLContext:
        """httpx's `verify`: a bool, or an SSL context for a CA bundle or a client certificate."""
        if not isinstance(self.verify, str) and self.cert is None:
            return self.verify
        context = ssl.create_default_context(cafile=self.verify if isinstance(self.verify, str) else None)
        if self.verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert is not None:
            context.load_cert_chain(*self.cert)
        return context

    # The pre-flight -----------------------------------------------------------------------------------

    def preflight(self) -> int:
        """``GET /crm/objects`` with each token (and the ``--object``) before any test runs; the requests it sent.

        Raises `TargetUnusable` for an unreachable URL, a rejected token or a missing object, and
        `TargetInconclusive` for a target that is there but keeps answering 429, 5xx or nothing.
        """
        from crm_contract.kit.client import ContractClient

        sent: list[object] = []
        with self.client(anonymous=True) as http:
            http.event_hooks["request"].append(sent.append)  # retries included: the run's count is honest
            api = ContractClient(http)
            for option, value in (("--token", self.token), ("--read-token", self.read_token)):
                if value:
                    self._check(option, self._get(api, "/crm/objects", value))
            if self.object_slug:
                self._check_object(self._get(api, f"/crm/objects/{self.object_slug}", self.token))
        return len(sent)

    def _get(self, api: Any, path: str, token: str) -> httpx.Response:
        """A GET; nothing listening is unusable, while faults of a target that is there are waited out."""
        import httpx

        from crm_contract.kit.client import RETRIED_STATUSES

        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = api.http.get(path, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.InvalidURL,
                httpx.ProxyError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            raise TargetUnusable(f"cannot reach {self.public_url}: {reason}") from None
        except httpx.HTTPError:
            return api.get(path, headers=headers)  # connected, then lost: sent again, or TargetInconclusive
        if response.status_code in RETRIED_STATUSES:
            return api.get(path, headers=headers)  # waits out Retry-After and backoff, or TargetInconclusive
        return response

    def _check_object(self, response: httpx.Response) -> None:
        if response.status_code == 404:
            raise TargetUnusable(f"{self.public_url} has no object {self.object_slug!r} (--object)")
        self._check("--token", response)
        described = response.json().get("object")
        attributes = described.get("attributes") if isinstance(described, dict) else None
        keys = {item.get("key") for item in attributes or [] if isinstance(item, dict)}
        if self.matching_attribute not in keys:
            raise TargetUnusable(f"the object {self.object_slug!r} has no attribute {self.matching_attribute!r} "
                                 "(--matching-attribute)")

    def _check(self, option: str, response: httpx.Response) -> None:
        status = response.status_code
        where = f"GET {response.request.url}"
        if status == 401:
            raise TargetUnusable(f"{self.public_url} rejected the token of {option} (401 on {where})")
        if status == 403:
            raise TargetUnusable(f"the token of {option} lacks the crm:read scope (403 on {where})")
        if status == 404:
            raise TargetUnusable(f"{where} answered 404: is the base URL right? It ends in /v2")
        if status != 200:
            raise TargetUnusable(f"{where} answered {status}, expected 200")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TargetUnusable(f"{where} did not answer with a JSON object: is {self.public_url} the Zeeg CRM API?")

    # Handing a checked target to the suite's process --------------------------------------------------

    def save(self, path: Path) -> dict[str, str]:
        """Write the target, without its tokens, to `path`; the tokens as environment variables to pass on.

        Tokens travel in the environment, never in a file or a command line (where ``ps`` shows them).
        """
        kept = {key: value for key, value in asdict(self).items()
                if key not in ("token", "read_token", "traffic", "definitions")}
        hidden = {name: value for name, value in self.headers if self.hides(name)}
        kept["headers"] = [[name, value] for name, value in self.headers if name not in hidden]
        kept["secret_headers"] = sorted(self.secret_headers)
        path.write_text(json.dumps(kept), encoding="utf-8")
        environ = {TOKEN_ENV: self.token, **({READ_TOKEN_ENV: self.read_token} if self.read_token else {})}
        if hidden:
            environ[HEADERS_ENV] = json.dumps(hidden)
        return environ

    @classmethod
    def load(cls, path: str | Path, environ: Mapping[str, str] = os.environ) -> Target:
        """The target `save` wrote, with its tokens from `environ`: checked already, so not checked again."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            hidden = json.loads(environ.get(HEADERS_ENV) or "{}")
            data["headers"] = tuple((str(name), str(value)) for name, value in data.get("headers") or ()) + tuple(
                (str(name), str(value)) for name, value in hidden.items())
            data["secret_headers"] = frozenset(data.get("secret_headers") or ())
            data["cert"] = tuple(data["cert"]) if data.get("cert") else None
            token = environ[TOKEN_ENV]
            return cls(token=token, read_token=environ.get(READ_TOKEN_ENV) or None, **data)
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise UsageError(f"cannot read the target file {path}: {type(error).__name__}: {error}") from None


def secret_header(name: str) -> bool:
    """Whether a header's value is a credential by its name (Authorization, X-Api-Key, X-Auth-Token, ...)."""
    lowered = name.lower()
    return lowered in CREDENTIAL_HEADERS or any(word in lowered for word in CREDENTIAL_WORDS)


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    """``NAME: VALUE`` strings (as -H takes them) as a mapping; a usage error for one without a name."""
    headers: dict[str, str] = {}
    for value in values:
        name, colon, content = value.partition(":")
        if not colon or not name.strip() or any(char.isspace() for char in name.strip()):
            raise UsageError(f"-H/--header takes NAME: VALUE, not {value!r}")
        headers[name.strip()] = content.strip()
    return headers


def parse_tls_verify(value: str | bool | None) -> bool | str:
    """--tls-verify: true (the default), false, or the path of a CA bundle."""
    if value is None or isinstance(value, bool):
        return True if value is None else value
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    return value


def check_tokens(token: str | None, read_token: str | None) -> None:
    if read_token is not None and read_token == token:
        raise UsageError("--read-token must differ from --token: it is used to check that writes need crm:write")


def check_object(object_slug: str | None, matching_attribute: str | None) -> None:
    if bool(object_slug) != bool(matching_attribute):
        raise UsageError("--object and --matching-attribute go together: give both or neither")


def embedded_tokens(token: str | None, read_token: str | None) -> tuple[str, str]:
    """The write token and the read-only token of an embedded server.

    The write token defaults to the reference server's; the read-only token to a random one, so that
    scope checks (403) can run against the embedded server too.
    """
    import secrets

    from crm_contract.reference_server.access import DEFAULT_WRITE_TOKEN

    write_token = token or DEFAULT_WRITE_TOKEN
    read_only_token = read_token or f"read-{secrets.token_hex(8)}"
    if read_only_token == write_token:
        raise UsageError("the read-only token must differ from the write token")
    return write_token, read_only_token
