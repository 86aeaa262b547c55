"""The rehearsal's catalogue: a run-made object with an attribute of every type, and N reproducible rows.

Values come from the project's strategies (`accepted_values`, boundary values included), drawn once per
type by a seeded Hypothesis run into a pool; row `i` of version `v` picks from the pools with a random
generator seeded by (seed, i, v). So a row is never stored: the checker regenerates the row it expects
from its index and version, and keeps only a few small fields per key (`crm_contract.rehearsal.sync`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st

from crm_contract.strategies import AttributeDefinition, ObjectDefinition, accepted_values, typed_attribute

__all__ = ["MATCHING_LABEL", "TYPES", "Catalogue"]

MATCHING_LABEL = "SKU"
TYPES = ("text", "phone_number", "number", "checkbox", "date", "datetime", "select", "multiselect")
_POOL_SIZE = 48


def _pool(strategy: st.SearchStrategy[Any], seed: int) -> list[Any]:
    """`_POOL_SIZE` values of `strategy`, the same ones for the same seed (and Hypothesis version)."""
    drawn: list[Any] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(max_examples=_POOL_SIZE, database=None, phases=[Phase.generate], deadline=None,
                         suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn or [None]


@dataclass
class Catalogue:
    """`size` rows for the object `slug`; `unique`: whether the matching attribute is marked isUnique."""

    slug: str
    size: int
    seed: int
    unique: bool
    # Only values whose round trip Zeeg documents (the documented profile): an honest API may refuse or
    # store others differently where the contract is [R].
    documented_only: bool = False
    keys: dict[str, str] = field(default_factory=dict)  # label -> attribute key, once the object exists
    option_ids: dict[str, tuple[int, ...]] = field(default_factory=dict)  # label -> the target's option ids
    types: dict[str, str] = field(default_factory=dict)  # label -> type
    _pools: dict[str, list[Any]] = field(default_factory=dict)

    def definition(self) -> ObjectDefinition:
        matching = AttributeDefinition(MATCHING_LABEL, "text", is_required=True, is_unique=self.unique)
        others = tuple(typed_attribute(_label(kind), kind) for kind in TYPES)
        return ObjectDefinition(self.slug, "Product", "Products", (matching, *others))

    def bind(self, keys: Mapping[str, str], option_ids: Mapping[str, tuple[int, ...]]) -> None:
        """Fit the catalogue to the object as the target made it: its keys and option ids."""
        self.keys = dict(keys)
        self.option_ids = dict(option_ids)
        self.types = {MATCHING_LABEL: "text", **{_label(kind): kind for kind in TYPES}}
        for index, kind in enumerate(TYPES):
            label = _label(kind)
            strategy = accepted_values(kind, option_ids=self.option_ids.get(label, ()),
                                       documented_only=self.documented_only)
            self._pools[label] = _pool(strategy, self.seed * 31 + index)

    @property
    def matching_key(self) -> str:
        return self.keys[MATCHING_LABEL]

    def sku(self, index: int) -> str:
        return f"sku-{index:07d}"

    def row(self, index: int, version: int) -> dict[str, Any]:
        """The body of row `index` in its `version` (0: as first sent; 1: changed in the second run)."""
        pick = random.Random(f"{self.seed}:{index}:{version}")
        body: dict[str, Any] = {self.matching_key: self.sku(index)}
        for kind in TYPES:
            label = _label(kind)
            pool = self._pools[label]
            body[self.keys[label]] = pool[pick.randrange(len(pool))]
        return body

    def type_of(self, key: str) -> str:
        label = next(label for label, known in self.keys.items() if known == key)
        return self.types[label]


def _label(kind: str) -> str:
    return f"Field {kind.replace('_', ' ')}"
