"""The options of every command that talks to a target (`run`, `rehearse`), and the `Target` they make.

One declaration of each, so that the commands agree on names, variables and help texts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from crm_contract.commands.configured import HeaderType, env
from crm_contract.kit.target import CONTRACT_PROFILES

__all__ = ["connection_options", "profile_option", "target_from_options", "target_options"]

F = TypeVar("F", bound=Callable[..., Any])


def _stacked(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """The decorators as one, in the order listed (the order of --help)."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


target_options = _stacked(
    click.option(
        "--base-url",
        metavar="URL",
        envvar=[env("base-url"), "PYTEST_BASE_URL"],
        show_envvar=True,
        help="The API to check, ending in /v2 (default: the embedded reference server on a free loopback port).",
    ),
    click.option("--token", envvar="ZEEG_API_TOKEN", show_envvar=True,
                  help="Token with crm:write (prefer the variable: a command line shows in ps)."),
    click.option("--read-token", envvar="ZEEG_API_READ_TOKEN", show_envvar=True,
                  help="Token with crm:read only, for the scope checks (403) (prefer the variable)."),
)

profile_option = _stacked(
    click.option(
        "--profile",
        type=click.Choice(CONTRACT_PROFILES),
        envvar=env("profile"), show_envvar=True,
        help="documented: Zeeg's documented rules only, the default for a --base-url target; strict: the reference "
        "choices too, the default for the embedded reference server (see docs/contract.md, [D] and [R]).",
    ),
)

connection_options = _stacked(
    click.option("--request-timeout", type=click.FloatRange(min=0.1), metavar="SECONDS", envvar=env("request-timeout"),
                  show_envvar=True, help="Seconds to wait for an answer [default: 15]."),
    click.option("-H", "--header", "headers", type=HeaderType(), multiple=True, envvar=env("header"), show_envvar=True,
                  help="Send this header with every request (repeat it; one a line in the variable). A value whose "
                  "name says credential (Authorization, *Token*, *Key*, Cookie, ...) is redacted everywhere."),
    click.option("--secret-header", "secret_headers", metavar="NAME", multiple=True, envvar=env("secret-header"),
                  show_envvar=True, help="Redact this header's value everywhere too (repeat it)."),
    click.option("--proxy", metavar="URL", envvar=env("proxy"), show_envvar=True,
                  help="Send every request through this proxy [default: HTTPS_PROXY, HTTP_PROXY, NO_PROXY]."),
    click.option("--tls-verify", metavar="true|false|CA-FILE", envvar=env("tls-verify"), show_envvar=True,
                  help="Verify the target's certificate (true), not (false), or against this CA bundle "
                  "[default: true]."),
    click.option("--client-cert", type=click.Path(dir_okay=False), envvar=env("client-cert"), show_envvar=True,
                  help="A client certificate (PEM) for mutual TLS; with --client-key."),
    click.option("--client-key", type=click.Path(dir_okay=False), envvar=env("client-key"), show_envvar=True,
                  help="The client certificate's private key (PEM)."),
)


def target_from_options(base_url: str | None, token: str | None, read_token: str | None, *, profile: str | None,
                        request_timeout: float | None, headers: Sequence[str], secret_headers: Sequence[str],
                        proxy: str | None, tls_verify: str | None, client_cert: str | None, client_key: str | None,
                        object_slug: str | None = None, matching_attribute: str | None = None) -> Any:
    """The `Target` these options describe: the base URL's, or the embedded reference server."""
    from crm_contract.errors import UsageError
    from crm_contract.kit.target import Target, check_object, check_tokens, parse_headers, parse_tls_verify

    check_object(object_slug, matching_attribute)
    check_tokens(token, read_token)
    if bool(client_cert) != bool(client_key):
        raise UsageError("--client-cert and --client-key go together: give both or neither")
    if base_url:
        return Target.from_options(base_url, token, read_token, contract_profile=profile, object_slug=object_slug,
                                   matching_attribute=matching_attribute, timeout=request_timeout,
                                   headers=parse_headers(headers), secret_headers=frozenset(secret_headers),
                                   proxy=proxy, verify=parse_tls_verify(tls_verify),
                                   cert=(client_cert, client_key) if client_cert and client_key else None)
    return Target.embedded_reference(token, read_token, contract_profile=profile, timeout=request_timeout,
                                     object_slug=object_slug, matching_attribute=matching_attribute)
