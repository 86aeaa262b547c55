"""Probe a target before the suite runs, so that a wrong URL, token or object reads as set-up error.

Each problem ends in one ``TargetUnusable`` whose message is a single line a person can act on.
"""

from __future__ import annotations

import time

import httpx

__all__ = ["TargetUnusable", "probe"]


class TargetUnusable(Exception):
    """The target cannot be checked as configured (unreachable, token rejected, object missing)."""


def probe(
    base_url: str, token: str, read_token: str | None, object_slug: str | None, matching_attribute: str | None
) -> None:
    """``GET /crm/objects`` with each token before any test runs, so that set-up errors read as such."""
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(15.0, connect=5.0)) as http:
        for option, value in (("--token", token), ("--read-token", read_token)):
            if value:
                _check(base_url, option, _get(http, "/crm/objects", value, base_url))
        if object_slug:
            response = _get(http, f"/crm/objects/{object_slug}", token, base_url)
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


def _get(http: httpx.Client, path: str, token: str, base_url: str) -> httpx.Response:
    """A GET that waits out a few 429s (Retry-After, at most 10 s in all)."""
    waited, attempts = 0.0, 0
    while True:
        attempts += 1
        try:
            response = http.get(path, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as error:
            raise TargetUnusable(
                f"cannot reach {base_url}: {' '.join(str(error).split()) or type(error).__name__}"
            ) from None
        retry_after = response.headers.get("Retry-After", "1")
        delay = float(retry_after) if retry_after.isdigit() else 1.0
        if response.status_code != 429 or waited + delay > 10 or attempts >= 5:  # Retry-After: 0 must end too
            return response
        time.sleep(delay)
        waited += delay


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
