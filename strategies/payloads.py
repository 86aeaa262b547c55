"""Record bodies for one object and matching attribute: full, partial, null-bearing, invalid, bad key.

Unique attributes other than the matching one get run-prefixed values (text) or values from the run's
numeric range (number), so they never collide with records this run did not make; collisions among
the run's own records are left to the caller's model (A8). Attributes of types the contract does not
cover, and select attributes without options, are left out of every payload.

`documented_only=True` (the `documented` contract profile) draws only values whose acceptance and
round trip Zeeg documents, so that a target is never failed for a reference choice ([R]): see
`accepted_values`.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from hypothesis import strategies as st

from .dispatch import accepted_values, rejected_values
from .keys import matching_keys, run_id, run_number_base
from .rejected import Rejected
from .schemas import Attribute, ObjectSchema
from .values import MAX_TEXT

__all__ = [
    "BadMatchingPayload", "InvalidPayload", "bad_matching_payloads", "full_payloads", "invalid_payloads",
    "null_payloads", "partial_payloads", "value_strategy",
]

Payload = dict[str, Any]


class InvalidPayload(NamedTuple):
    """A body whose attribute `key` holds the rejected value `rejected.value` (everything else valid)."""

    body: Payload
    key: str
    rejected: Rejected


class BadMatchingPayload(NamedTuple):
    """A body whose matching value is `missing`, `null` or `empty` (A7)."""

    body: Payload
    kind: str


def _writable(attr: Attribute) -> bool:
    return attr.supported and not (attr.type == "select" and not attr.option_ids)


def value_strategy(attr: Attribute, *, prefix: str | None = None,
                   documented_only: bool = False) -> st.SearchStrategy[Any]:
    """Accepted values for `attr`; for a unique text, phone or number attribute, run-scoped ones.

    Run-scoped values are `<run id>-<text>` (at most 255 code points) or, per attribute key, the run's
    numeric base plus up to 10^9 (phone numbers as `+` and those digits). Shrinks like
    `accepted_values`, run-scoped values towards `<run id>-` and the base. Made once per attribute
    (strategies are immutable), however many examples draw from it.
    """
    if not attr.is_unique:  # the same for every prefix
        return accepted_values(attr.type, option_ids=attr.option_ids, documented_only=documented_only)
    return _run_scoped(attr, prefix, documented_only)


@functools.lru_cache(maxsize=4096)
def _run_scoped(attr: Attribute, prefix: str | None, documented_only: bool) -> st.SearchStrategy[Any]:
    head = prefix if prefix is not None else run_id()
    base = run_number_base(head + attr.key, documented_only=documented_only)
    if attr.type == "number":
        return st.integers(0, 10**9).map(lambda n: base + n)
    if attr.type == "phone_number":
        return st.integers(0, 10**9).map(lambda n: f"+{base + n}")
    room = MAX_TEXT - len(head) - 1
    texts = accepted_values("text", documented_only=documented_only)
    return texts.map(lambda text: f"{head}-{text}"[: len(head) + 1 + room])


class _Plan:
    """What a payload strategy needs of a schema: the matching attribute and the writable others."""

    def __init__(self, schema: ObjectSchema, matching_attribute: str, keys: st.SearchStrategy[Any] | None,
                 prefix: str | None, documented_only: bool = False) -> None:
        self.matching = schema.attribute(matching_attribute)
        if not _writable(self.matching):
            raise ValueError(f"cannot generate values for the matching attribute {matching_attribute!r} "
                             f"of type {self.matching.type!r}")
        self.keys = keys if keys is not None else matching_keys(prefix=prefix, attr_type=self.matching.type,
                                                                documented_only=documented_only)
        others = [attr for attr in schema.attributes if attr.key != matching_attribute]
        blocked = [attr.key for attr in others if attr.is_required and not _writable(attr)]
        if blocked:
            raise ValueError(f"{schema.slug} requires attributes no payload can fill: {', '.join(blocked)}")
        self.required = [attr for attr in others if attr.is_required]
        self.optional = [attr for attr in others if not attr.is_required and _writable(attr)]
        self.prefix = prefix
        self.documented_only = documented_only
        self._bodies: dict[tuple[str, ...], st.SearchStrategy[Payload]] = {}
        self._subsets: dict[tuple[tuple[str, ...], int], st.SearchStrategy[list[Attribute]]] = {}

    def values(self, attrs: list[Attribute]) -> st.SearchStrategy[Payload]:
        return st.fixed_dictionaries({attr.key: value_strategy(attr, prefix=self.prefix,
                                                               documented_only=self.documented_only)
                                      for attr in attrs})

    def with_key(self, body: st.SearchStrategy[Payload]) -> st.SearchStrategy[Payload]:
        return st.builds(lambda key, rest: {self.matching.key: key, **rest}, self.keys, body)

    def body(self, attrs: list[Attribute]) -> st.SearchStrategy[Payload]:
        """`with_key(values(attrs))`, made once per set of attributes (in the object's order, so at most one
        per subset): examples draw it again and again."""
        order = [*self.required, *self.optional]
        attrs = sorted(attrs, key=lambda attr: order.index(attr) if attr in order else len(order))
        chosen = tuple(attr.key for attr in attrs)
        if chosen not in self._bodies:
            self._bodies[chosen] = self.with_key(self.values(attrs))
        return self._bodies[chosen]

    def subsets(self, attrs: list[Attribute], *, min_size: int = 0) -> st.SearchStrategy[list[Attribute]]:
        """Lists of distinct attributes of `attrs`, made once per `attrs`."""
        key = (tuple(attr.key for attr in attrs), min_size)
        if key not in self._subsets:
            self._subsets[key] = st.lists(st.sampled_from(attrs), min_size=min_size, unique_by=lambda a: a.key)
        return self._subsets[key]


def full_payloads(schema: ObjectSchema, matching_attribute: str, *, keys: st.SearchStrategy[Any] | None = None,
                  prefix: str | None = None, documented_only: bool = False) -> st.SearchStrategy[Payload]:
    """Bodies with a value for every writable attribute, the matching one drawn from `keys`.

    `keys` defaults to fresh `matching_keys()`; pass `st.sampled_from(known)` to target existing records.
    Shrinks each value towards its type's simplest (empty text, 0, false, the first option).
    """
    plan = _Plan(schema, matching_attribute, keys, prefix, documented_only)
    return plan.with_key(plan.values(plan.required + plan.optional))


def partial_payloads(schema: ObjectSchema, matching_attribute: str, *,
                     keys: st.SearchStrategy[Any] | None = None,
                     prefix: str | None = None, documented_only: bool = False) -> st.SearchStrategy[Payload]:
    """Bodies with the matching value, every required attribute, and a random subset of the others.

    Valid for a create and an update alike. Shrinks towards the smallest subset.
    """
    plan = _Plan(schema, matching_attribute, keys, prefix, documented_only)

    @st.composite
    def build(draw: st.DrawFn) -> Payload:
        chosen = draw(plan.subsets(plan.optional)) if plan.optional else []
        return draw(plan.body(plan.required + chosen))

    return build()


def null_payloads(schema: ObjectSchema, matching_attribute: str, *, keys: st.SearchStrategy[Any] | None = None,
                  prefix: str | None = None, documented_only: bool = False) -> st.SearchStrategy[Payload]:
    """Partial bodies in which at least one optional attribute is an explicit `null` (A4: it clears).

    Raises ValueError if the object has no optional attribute besides the matching one. Shrinks towards
    one `null` (the first optional attribute) and no other optional value.
    """
    plan = _Plan(schema, matching_attribute, keys, prefix, documented_only)
    if not plan.optional:
        raise ValueError(f"{schema.slug} has no optional attribute to send as null")

    @st.composite
    def build(draw: st.DrawFn) -> Payload:
        nulls = draw(plan.subsets(plan.optional, min_size=1))
        rest = [attr for attr in plan.optional if attr not in nulls]
        chosen = draw(plan.subsets(rest)) if rest else []
        body = draw(plan.body(plan.required + chosen))
        return {**body, **dict.fromkeys((attr.key for attr in nulls), None)}

    return build()


def invalid_payloads(schema: ObjectSchema, matching_attribute: str, *,
                     keys: st.SearchStrategy[Any] | None = None, prefix: str | None = None,
                     documented_only: bool = False) -> st.SearchStrategy[InvalidPayload]:
    """Full bodies with exactly one attribute (possibly the matching one, A14) set to a rejected value.

    Only [D] rejections when `documented_only`, and then only on attributes whose type has one (not
    `datetime`); raises ValueError if no attribute has. Shrinks towards the simplest rejection of the
    first such attribute, the matching one if it has any.
    """
    plan = _Plan(schema, matching_attribute, keys, prefix, documented_only)
    rejections: dict[str, st.SearchStrategy[Rejected]] = {}
    for attr in [plan.matching, *plan.required, *plan.optional]:
        try:
            rejections[attr.key] = rejected_values(attr.type, option_ids=attr.option_ids,
                                                   documented_only=documented_only)
        except ValueError:
            continue  # every rejection of this type is a reference choice
    if not rejections:
        raise ValueError(f"no attribute of {schema.slug} has a documented rejection")

    @st.composite
    def build(draw: st.DrawFn) -> InvalidPayload:
        body = draw(plan.body(plan.required + plan.optional))
        key = draw(st.sampled_from(list(rejections)))
        bad = draw(rejections[key])
        return InvalidPayload({**body, key: bad.value}, key, bad)

    return build()


def bad_matching_payloads(schema: ObjectSchema, matching_attribute: str, *, prefix: str | None = None,
                          documented_only: bool = False) -> st.SearchStrategy[BadMatchingPayload]:
    """Full bodies whose matching value is missing, `null` or `""` (A7: each gives 400).

    Shrinks towards the body without the matching attribute.
    """
    plan = _Plan(schema, matching_attribute, None, prefix, documented_only)
    rest = plan.values(plan.required + plan.optional)
    key = plan.matching.key

    def variant(kind: str, body: Payload) -> BadMatchingPayload:
        if kind == "missing":
            return BadMatchingPayload({k: v for k, v in body.items() if k != key}, kind)
        return BadMatchingPayload({**body, key: None if kind == "null" else ""}, kind)

    return st.builds(variant, st.sampled_from(["missing", "null", "empty"]), rest)
