"""Matching keys: fresh values unique to the run, and near-miss variants that must not match (A3).

Fresh keys carry the run id, so a run against a shared staging object never collides with real data
and two runs never collide with each other. Near-miss variants differ from a known key only by case,
surrounding white space, Unicode normalisation form, or JSON type: under exact matching none of them
may update the record that holds the key.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from typing import Any, NamedTuple

from hypothesis import strategies as st

from .values import MAX_NUMBER, MAX_TEXT

__all__ = [
    "NEAR_MISS_KINDS", "NearMiss", "matching_keys", "near_miss_sets", "near_miss_variants", "run_id", "run_number_base",
    "worker_run_id",
]

NEAR_MISS_KINDS = ("case", "whitespace", "nfc", "nfd", "type", "wildcard", "accent")


def worker_run_id(base: str, worker: int) -> str:
    """The run id of pytest-xdist worker number `worker` of the run `base`: one of its own, of the same form.

    Each worker makes and cleans up its own objects under its own ledger, so two workers never share a
    prefix; the runner knows every worker's id from the run's, to sweep what a killed worker left.
    """
    return f"cc{(int(base[2:8], 16) + worker + 1) % 16**6:06x}" if re.fullmatch(r"cc[0-9a-f]{6}", base) \
        else f"{base}w{worker}"


def _process_run_id() -> str:
    base = os.environ.get("CRM_CONTRACT_RUN_ID") or f"cc{secrets.token_hex(3)}"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
    return worker_run_id(base, int(worker)) if worker.isdigit() else base


_RUN_ID = _process_run_id()


def run_id() -> str:
    """This process's run id (`cc` and 6 hex digits, or `CRM_CONTRACT_RUN_ID`): the prefix of its data.

    In a pytest-xdist worker, the worker's own (`worker_run_id`).
    """
    return _RUN_ID


def run_number_base(prefix: str | None = None, *, documented_only: bool = False) -> int:
    """A large integer derived from the run id: numbers from it on (up to 10^9 more) are this run's.

    Between 10^12 and 2^52, or between 10^8 and 10^9 with `documented_only`, so that the run's numbers
    stay within ±(2^31 − 1) when only the documented integer range may be relied on.
    """
    digest = int.from_bytes(hashlib.sha256((prefix or run_id()).encode()).digest()[:6], "big")
    if documented_only:
        return 10**8 + digest % (9 * 10**8)
    return 10**12 + digest % (2**52 - 10**12 - 10**9)


# Letters with a precomposed and a decomposed form, cased letters, digits, separators: every kind of
# near miss has something to work on.
_KEY_ALPHABET = st.one_of(
    st.sampled_from("abcxyzABCXYZ0123456789-_.:"),
    st.sampled_from("éÉüÜñÑåÅçÇ"),
    st.characters(exclude_categories=["Cs", "Cc", "Z"]),
)


def matching_keys(*, prefix: str | None = None, attr_type: str = "text",
                  documented_only: bool = False) -> st.SearchStrategy[Any]:
    """Fresh matching values for an attribute of `attr_type` (text, phone_number or number).

    text: `<run id>-<suffix>`, the suffix arbitrary Unicode (cased, accented, symbols), sometimes in
    decomposed form, at most 255 code points in all. phone_number: `+` and digits after a run-derived
    number. number: the run's numeric base plus up to 10^9. Raises ValueError for another type, or for
    a text prefix that leaves no room. Shrinks towards `<run id>-` plus one character, or the base itself.
    """
    head = prefix if prefix is not None else run_id()
    if attr_type == "text":
        room = MAX_TEXT - len(head) - 1
        if room < 1:
            raise ValueError(f"a prefix of {len(head)} code points leaves no room in {MAX_TEXT} for a suffix")
        suffixes = st.text(_KEY_ALPHABET, min_size=1, max_size=min(40, room))
        if documented_only:
            # Exact matching without normalisation is [R]: documented-only keys are in NFC, every character
            # (a CJK compatibility ideograph, say, has another NFC form), cut back to 255 after normalising.
            return suffixes.map(lambda tail: unicodedata.normalize("NFC", f"{head}-{tail}")[:MAX_TEXT])
        # The decomposed form can be longer than the drawn suffix, so the key is cut back to 255.
        return st.builds(lambda tail, nfd: f"{head}-{unicodedata.normalize('NFD', tail) if nfd else tail}"[:MAX_TEXT],
                         suffixes, st.booleans())
    base = run_number_base(head, documented_only=documented_only)
    if attr_type == "number":
        return st.integers(0, 10**9).map(lambda n: min(base + n, MAX_NUMBER))
    if attr_type == "phone_number":
        return st.integers(0, 10**9).map(lambda n: f"+{base + n}")
    raise ValueError(f"fresh matching keys exist for text, phone_number and number, not {attr_type!r}")


class NearMiss(NamedTuple):
    """A value that looks like a known key but is not equal to it; `kind` is one of NEAR_MISS_KINDS."""

    kind: str
    value: Any


_INTEGER = re.compile(r"-?[0-9]+")


def _variants(key: Any) -> list[NearMiss]:
    if isinstance(key, bool):
        return []
    if isinstance(key, int):
        return [NearMiss("type", str(key))]
    if not isinstance(key, str):
        return []
    found = [NearMiss("whitespace", padded) for padded in (key + " ", " " + key, key + "\t", "\u00a0" + key)]
    if key.swapcase() != key:
        found.append(NearMiss("case", key.swapcase()))
    if key.upper() not in (key, key.swapcase()):
        found.append(NearMiss("case", key.upper()))
    # What a SQL LIKE pattern would match: the last character replaced by `_` (any one character) or `%`
    # (any run of them). Exact matching treats both as ordinary characters (A3 [D]).
    for wildcard in ("_", "%"):
        if len(key) > 1 and key[-1] != wildcard:
            found.append(NearMiss("wildcard", key[:-1] + wildcard))
    # The letters without their accents ("é" -> "e"): another value under every normal form, which an
    # accent-insensitive collation would still match.
    bare = unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", key)
                                                if not unicodedata.combining(c)))
    if bare != unicodedata.normalize("NFC", key):
        found.append(NearMiss("accent", bare))
    for form in ("NFC", "NFD"):
        normalised = unicodedata.normalize(form, key)
        if normalised != key:
            found.append(NearMiss(form.lower(), normalised))
    spelled = key.strip()
    if _INTEGER.fullmatch(spelled) and abs(int(spelled)) <= MAX_NUMBER:
        found.append(NearMiss("type", int(spelled)))
    # A variant the API must reject (over 255 code points: padding, "ß".upper() == "SS", NFD) would test
    # validation, not matching, so only values the contract accepts are kept.
    return [miss for miss in found if not (isinstance(miss.value, str) and len(miss.value) > MAX_TEXT)
            and (miss.value != key or type(miss.value) is not type(key))]


def near_miss_variants(key: Any) -> st.SearchStrategy[NearMiss]:
    """Near misses of `key` that exact matching must tell apart from it (A3), each at most 255 code points.

    For a string: padded with a space, tab or no-break space, case flipped or upper-cased, the last
    character replaced by the SQL wildcard `_` or `%`, its letters without accents (when it has any), the
    other Unicode normalisation form (when it differs), and the number it spells (when it spells one within
    ±(2^53 − 1)). For a number: the same digits as a string. Each kind the key has is drawn equally
    often (a string has four paddings but may have one normal form), then one variant of that kind.
    Raises ValueError for a key that has none (e.g. `True`). Shrinks towards the first variant of the
    first kind listed (for a string, the key with a trailing space).
    """
    return st.sampled_from(_by_kind(key)).flatmap(st.sampled_from)


def near_miss_sets(key: Any) -> st.SearchStrategy[tuple[NearMiss, ...]]:
    """One near miss of every kind `key` has (see `near_miss_variants`): padding, case, normal forms, type.

    For a check that must hold for each kind in every example, so that no kind depends on the luck of
    the draw. Raises ValueError for a key that has none. Shrinks each towards the first variant of its
    kind (for a string, the trailing space and the flipped case).
    """
    return st.tuples(*(st.sampled_from(variants) for variants in _by_kind(key)))


def _by_kind(key: Any) -> list[list[NearMiss]]:
    found = _variants(key)
    if not found:
        raise ValueError(f"{key!r} has no near-miss variant")
    by_kind: dict[str, list[NearMiss]] = {}
    for miss in found:
        by_kind.setdefault(miss.kind, []).append(miss)
    return list(by_kind.values())  # in the order listed above: whitespace first
