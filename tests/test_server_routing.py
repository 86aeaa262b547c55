"""Routing edge cases of the reference server: every method and every path reaches the contract's checks.

Found by probing outside the schema: Starlette's own 405 for unlisted methods skipped authentication,
an encoded slash split a slug in two, and a non-string attribute type raised instead of answering 400.
"""

from __future__ import annotations

from typing import Any

import pytest

Api = Any


@pytest.mark.parametrize("path", ["/crm/objects", "/crm/shop", "/no/such/route"])
def test_an_unlisted_method_without_a_token_is_401(api: Api, path: str) -> None:
    api.fails(api.request("TRACE", path, token=None), 401, "section 1: 401 comes before 405 and 404")


def test_an_unlisted_method_on_an_unknown_route_is_404(api: Api) -> None:
    api.fails(api.request("TRACE", "/no/such/route"), 404, "section 1: unknown route")


def test_an_unlisted_method_on_a_known_path_is_405_with_the_paths_methods(api: Api) -> None:
    response = api.request("TRACE", "/crm/objects")
    api.fails(response, 405, "section 1: 405 with Allow")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}, (
        f"section 1: Allow lists the methods of this path\n{api.describe(response)}"
    )


@pytest.mark.parametrize("path", ["/crm/objects%2Fpeople", "/crm/a%2Fb", "/crm/objects/a%2Fb"])
def test_an_encoded_slash_stays_inside_its_segment(api: Api, path: str) -> None:
    api.fails(api.get(path), 404, "section 1: unknown object (the slug contains an encoded slash)")


@pytest.mark.parametrize("path", ["/crm/objects%2Fpeople", "/crm/a%2Fb"])
def test_an_assert_into_a_slug_with_an_encoded_slash_is_404(api: Api, path: str) -> None:
    api.fails(api.request("PUT", path, params={"matchingAttribute": "x"}, json={"x": "1"}), 404,
              "A15: unknown object (the slug contains an encoded slash)")


@pytest.mark.parametrize("attr_type", [{}, [], 1, None, True])
def test_a_non_string_attribute_type_is_400(api: Api, attr_type: Any) -> None:
    slug = api.new_object()
    response = api.post(f"/crm/objects/{slug}/attributes",
                        json={"label": "Odd", "type": attr_type, "isRequired": False})
    api.fails(response, 400, "section 3: an unknown type is a validation error")
