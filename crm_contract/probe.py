"""Probe a target before the suite runs, so that a wrong URL, token or object reads as set-up error.

Each problem ends in one ``TargetUnusable`` whose message is a single line a person can act on. A
target that cannot be connected to at all is unusable; one that connects but keeps answering 429, 5xx
or nothing is busy, not misconfigured: its requests are sent again as the suite's client does, and if
that goes on the probe raises `TargetInconclusive` (no verdict, exit 3), never a set-up error.
"""

from __future__ import annotations

import httpx

from crm_contract.client import RETRIED_STATUSES, ContractClient

__all__ = ["TargetUnusable", "probe"]


class TargetUnusable(Exception):
    """The target cannot be checked as configured (unreachable, token rejected, object missing)."""


def probe(
    base_url: str, token: str, read_token: str | None, object_slug: str | None, matching_attribute: str | None
) -> None:
    """``GET /crm/objects`` with each token before any test runs, so that set-up errors read as such."""
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(15.0, connect=5.0)) as http:
        api = ContractClient(http)
        for option, value in (("--token", token), ("--read-token", read_token)):
            if value:
                _check(base_url, option, _get(api, "/crm/objects", value, base_url))
        if object_slug:
            response = _get(api, f"/crm/objects/{object_slug}", token, base_url)
            if response.status_code == 404:
                raise TargetUnusable(f"{base_url} has no object {object_slug!r} (--object)")
            _check(base_url, "--token", response)
            described = response.json().get("object")
            attributes = described.get("attributes") if isinstance(described, dict) else None
            keys = {item.get("key") for item in attributes or [] if isinstance(item, dict)}
            if matching_attribute not in keys:
                raise TargetUnusable(
                    f"the object {object_slug!r} has no attribute {matching_attribute!r} "
                    "(--matching-attribute)"
                )


def _get(api: ContractClient, path: str, token: str, base_url: str) -> httpx.Response:
    """A GET; nothing listening is unusable, while faults of a target that is there are waited out."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = api.http.get(path, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise TargetUnusable(f"cannot reach {base_url}: {' '.join(str(error).split()) or type(error).__name__}"
                             ) from None
    except httpx.HTTPError:
        return api.get(path, headers=headers)  # connected, then lost: sent again, or TargetInconclusive
    if response.status_code in RETRIED_STATUSES:
        return api.get(path, headers=headers)  # waits out Retry-After and backoff, or TargetInconclusive
    return response


def _check(base_url: str, option: str, response: httpx.Response) -> None:
    status = response.status_code
    where = f"GET {response.request.url}"
    if status == 401:
        raise TargetUnusable(f"{base_url} rejected the token of {option} (401 on {where})")
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
        raise TargetUnusable(f"{where} did not answer with a JSON object: is {base_url} the Zeeg CRM API?")
