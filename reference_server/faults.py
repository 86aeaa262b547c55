"""The fault catalogue: named, documented deviations from one contract rule each.

A fault is selected with `create_app(fault=NAME)` or `crm-contract serve --fault NAME`. Each one is a
bug that a real upsert implementation or a hand-written mock has had, made by changing exactly one
field of the server's `Rules`; the suite never learns which is active. An unknown name is an error.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from .rules import Rules
from .values import MAX_TEXT

__all__ = ["BREAKS_ONLY_REFERENCE", "FAULTS", "SCALE_FAULTS", "Fault", "get_fault"]

# Faults that break only a reference choice ([R] in docs/contract.md): an honest API may behave so, and
# the suite's documented profile lets them pass. Every other fault breaks a documented [D] part and
# must be killed under both profiles.
BREAKS_ONLY_REFERENCE = frozenset({
    "matching_normalises_unicode", "matching_trims_whitespace",  # A3: exact form
    "null_does_not_clear",  # A4: an explicit null clears
    "matching_attribute_not_checked",  # A6
    "last_match_wins",  # A9: "first" is the oldest
    "rejected_writes_commit", "lookup_not_atomic", "deleted_records_still_match", "matching_spans_objects",  # A10-A13
    "unknown_object_is_400",  # A15: 404 for an unknown object
    "booleans_accepted_as_numbers", "fractions_truncated", "datetime_offset_ignored",  # section 4 [R] values
    "created_at_moves_on_update", "updated_at_goes_backward", "list_newest_first", "list_pages_overlap",  # 5
})


@dataclass(frozen=True)
class Fault:
    """A named deviation from one rule: `apply` changes one field of the server's `Rules`."""

    name: str
    rule: str
    description: str
    apply: Callable[[Rules], None]

    @property
    def documented(self) -> bool:
        """Whether the fault breaks a documented [D] part of its rule (else only a reference choice)."""
        return self.name not in BREAKS_ONLY_REFERENCE


FAULTS: dict[str, Fault] = {}
# Faults that show only at scale or under concurrency: the property suite's few records a test never
# reach them (so the kill matrix leaves them out); `crm-contract rehearse` must catch each one.
SCALE_FAULTS: dict[str, Fault] = {}


def get_fault(name: str | None) -> Fault | None:
    if name is None:
        return None
    try:
        return FAULTS.get(name) or SCALE_FAULTS[name]
    except KeyError:
        known = ", ".join(sorted([*FAULTS, *SCALE_FAULTS]))
        raise ValueError(f"unknown fault {name!r} (known: {known})") from None


def _fault(name: str, rule: str, description: str) -> Callable[[Callable[[Rules], None]], Callable[[Rules], None]]:
    def register(apply: Callable[[Rules], None]) -> Callable[[Rules], None]:
        FAULTS[name] = Fault(name, rule, description, apply)
        return apply
    return register


def _set(name: str, rule: str, description: str, **fields: Any) -> None:
    """A fault that only sets fields of `Rules` to other values."""
    def apply(rules: Rules) -> None:
        for field_name, value in fields.items():
            setattr(rules, field_name, value)
    FAULTS[name] = Fault(name, rule, description, apply)


Validate = Callable[[str, Any, Collection[int]], Any]
Original = Callable[..., Any]  # the contract's validation of the same type: (value, option ids=…)


def _validate_with(rules: Rules, attr_type: str | tuple[str, ...],
                   change: Callable[[Any, Collection[int], Original], Any]) -> None:
    """Replace validation of the given type(s): `change(value, option_ids, original)`."""
    original = rules.validate
    types = (attr_type,) if isinstance(attr_type, str) else attr_type

    def validate(kind: str, value: Any, option_ids: Collection[int]) -> Any:
        if kind in types:
            return change(value, option_ids, lambda v, ids=option_ids: original(kind, v, ids))
        return original(kind, value, option_ids)
    rules.validate = validate


def _match_with(rules: Rules, fold: Callable[[str], str]) -> None:
    original = rules.match_key
    rules.match_key = lambda value: original(fold(value) if isinstance(value, str) else value)


# A1, A2, A5: statuses and ids ----------------------------------------------------------------------

_set("create_answers_200", "A1", "an assert that creates answers 200 instead of 201", create_status=200)
_set("update_answers_201", "A2", "an assert that updates answers 201 instead of 200", update_status=201)
_set("update_assigns_new_id", "A2", "an update gives the record a new id", update_keeps_id=False)
_set("never_matches", "A5", "every assert creates a record, so repeats duplicate it", pick_matches=lambda found: [])

# A3: matching that is not exact --------------------------------------------------------------------


_set("matching_like_pattern", "A3", "the lookup is `WHERE key ILIKE :value`: case folded, and `_` and `%` in the "
     "sent value are wildcards", match_as_pattern=True)


@_fault("matching_ignores_case", "A3", "matching folds case: 'ABC' finds the record of 'abc'")
def _ignore_case(rules: Rules) -> None:
    _match_with(rules, str.casefold)


@_fault("matching_trims_whitespace", "A3", "matching strips surrounding white space")
def _trim(rules: Rules) -> None:
    _match_with(rules, str.strip)


@_fault("matching_normalises_unicode", "A3", "matching compares NFC forms: a decomposed 'é' finds a composed one")
def _normalise(rules: Rules) -> None:
    _match_with(rules, lambda text: unicodedata.normalize("NFC", text))


@_fault("matching_folds_accents", "A3", "matching ignores accents, as an accent-insensitive collation does")
def _accents(rules: Rules) -> None:
    _match_with(rules, lambda text: "".join(c for c in unicodedata.normalize("NFD", text)
                                            if not unicodedata.combining(c)))


# A4: what an update does to the attributes ----------------------------------------------------------

_set("update_nulls_omitted_attributes", "A4", "an update (assert or PATCH) replaces the record: omitted attributes "
     "become null", merge=lambda data, values: {k: v for k, v in values.items() if v is not None})
_set("null_does_not_clear", "A4", "an explicit null in an update is ignored instead of clearing the value",
     merge=lambda data, values: {**data, **{k: v for k, v in values.items() if v is not None}})
_set("falsy_values_dropped", "A4", "false, 0 and \"\" are treated as missing and never stored",
     merge=lambda data, values: {**{k: v for k, v in data.items() if k not in values},
                                 **{k: v for k, v in values.items() if v is not None and v not in ("", 0, False)
                                    or isinstance(v, list) and v}})


@_fault("create_fills_defaults", "A4", "omitted attributes are stored as \"\", 0 or false on create, not null")
def _defaults(rules: Rules) -> None:
    blank = {"text": "", "phone_number": "", "number": 0, "checkbox": False}
    rules.create_defaults = lambda obj: {attr.key: blank[attr.type] for attr in obj.custom_attributes
                                         if attr.type in blank and not attr.is_unique}


# A6, A7: the matching attribute and value -------------------------------------------------------------

_set("matching_attribute_not_checked", "A6", "a missing, unknown or system matchingAttribute creates a record",
     check_matching_attribute=False)
_set("empty_matching_value_accepted", "A7", "an empty matching value is accepted like any other",
     matching_value_allowed=lambda value: value is not None)
_set("null_matching_value_accepted", "A7", "a null or missing matching value creates a record",
     matching_value_allowed=lambda value: True)
_set("falsy_matching_value_refused", "A7", "the matching value is checked with `not value`: 0 and false are refused "
     "like null and \"\"", matching_value_allowed=lambda value: bool(value))

# A8: unique values ------------------------------------------------------------------------------------

_set("unique_not_enforced", "A8", "unique attributes accept a value another record holds",
     unique_collides=lambda holders, own: False)
_set("unique_collides_with_itself", "A8", "re-asserting a record's own unique value is rejected as a collision",
     unique_collides=lambda holders, own: bool(holders))

# A9, A10, A11, A12, A13 --------------------------------------------------------------------------------

_set("last_match_wins", "A9", "with several matches the newest record is updated", pick_matches=lambda f: f[-1:])
_set("every_match_updated", "A9", "with several matches every one of them is updated", pick_matches=lambda f: f)
_set("rejected_writes_commit", "A10", "a rejected write keeps what it wrote before the check failed",
     commit_rejected_writes=True)
_set("lookup_not_atomic", "A11", "the assert's lookup and its insert run in two transactions",
     lookup_pause=0.02)
_set("deleted_records_still_match", "A12", "DELETE only hides a record; asserting its value revives it",
     soft_delete=True)
_set("matching_spans_objects", "A13", "matching looks at the records of every object", match_across_objects=True)

# A14 and section 4: values ---------------------------------------------------------------------------


def _text_limit(count: Callable[[str], int]) -> Callable[[Any, Collection[int], Original], Any]:
    def change(value: Any, ids: Collection[int], original: Original) -> Any:
        if not isinstance(value, str):
            return original(value)
        if count(value) > MAX_TEXT:
            raise ValueError(f"must be at most {MAX_TEXT} characters")
        return value
    return change


@_fault("text_limit_off_by_one", "section 4", "texts of 256 characters are accepted")
def _off_by_one(rules: Rules) -> None:
    _validate_with(rules, ("text", "phone_number"), _text_limit(lambda text: len(text) - 1))


@_fault("text_limit_counts_bytes", "section 4", "the 255 limit counts UTF-8 bytes, so 255 emoji are rejected")
def _bytes(rules: Rules) -> None:
    _validate_with(rules, ("text", "phone_number"), _text_limit(lambda text: len(text.encode("utf-8"))))


@_fault("text_limit_counts_utf16", "section 4", "the 255 limit counts UTF-16 units, so astral characters count twice")
def _utf16(rules: Rules) -> None:
    _validate_with(rules, ("text", "phone_number"), _text_limit(lambda text: len(text.encode("utf-16-le")) // 2))


@_fault("booleans_accepted_as_numbers", "section 4", "true and false are accepted as numbers (Python's bool is an int)")
def _bools(rules: Rules) -> None:
    _validate_with(rules, "number", lambda v, ids, original: int(v) if isinstance(v, bool) else original(v))


@_fault("fractions_truncated", "section 4", "1.5 is accepted as a number and stored as 1")
def _fractions(rules: Rules) -> None:
    _validate_with(rules, "number", lambda v, ids, original: int(v) if isinstance(v, float) else original(v))


@_fault("numeric_strings_accepted", "A14", "\"12\" is accepted as the number 12")
def _numeric_strings(rules: Rules) -> None:
    def change(value: Any, ids: Collection[int], original: Original) -> Any:
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return original(int(value))
        return original(value)
    _validate_with(rules, "number", change)


@_fault("large_numbers_lose_precision", "section 4", "numbers are kept as 32-bit floats: 16777217 becomes 16777216")
def _precision(rules: Rules) -> None:
    _validate_with(rules, "number", lambda v, ids, original: int(struct.unpack("f", struct.pack("f", original(v)))[0]))


@_fault("checkbox_accepts_numbers", "section 4", "0 and 1 are accepted as checkbox values")
def _checkbox(rules: Rules) -> None:
    _validate_with(rules, "checkbox", lambda v, ids, original: bool(v) if v in (0, 1) and not isinstance(v, bool)
                   else original(v))


@_fault("lenient_dates", "section 4", "dates are checked by shape only: 2025-02-30 and 2025-6-1 are accepted")
def _dates(rules: Rules) -> None:
    def change(value: Any, ids: Collection[int], original: Original) -> Any:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
            return value
        return original(value)
    _validate_with(rules, "date", change)


@_fault("datetime_offset_ignored", "section 4", "a date-time's offset is dropped: 10:00+02:00 is kept as 10:00 UTC")
def _offsets(rules: Rules) -> None:
    def change(value: Any, ids: Collection[int], original: Original) -> Any:
        stored = original(value)
        if isinstance(value, str) and (shape := re.fullmatch(r"(.{19})(\.\d+)?(Z|[+-]\d\d:\d\d)", value)):
            return original(shape.group(1) + (shape.group(2) or "") + "+00:00")
        return stored
    _validate_with(rules, "datetime", change)


@_fault("unknown_options_accepted", "section 4", "a select or multiselect accepts option ids that do not exist")
def _options(rules: Rules) -> None:
    _validate_with(rules, ("select", "multiselect"),
                   lambda v, ids, original: original(v, set(ids) | _ids_in(v)))


def _ids_in(value: Any) -> set[int]:
    items = value if isinstance(value, list) else [value]
    return {item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)
            and not isinstance(item.get("id"), bool)}


@_fault("multiselect_keeps_first", "section 4", "a multiselect stores only its first option")
def _first_option(rules: Rules) -> None:
    _validate_with(rules, "multiselect", lambda v, ids, original: original(v)[:1])


# A15 and section 1: access --------------------------------------------------------------------------

_set("missing_token_accepted", "A15", "a request without a token is served", require_token=False)
_set("read_token_can_write", "A15", "a token with crm:read only may write", enforce_scopes=False)
_set("unknown_object_is_400", "A15", "an assert into an unknown object answers 400, not 404", unknown_object_status=400)

# Section 5: records ---------------------------------------------------------------------------------

_set("delete_unknown_is_200", "section 5", "DELETE of an unknown or deleted record answers 200",
     delete_unknown_status=200)
_set("list_newest_first", "section 5", "the record list is newest first", list_newest_first=True)
_set("list_pages_overlap", "section 5", "each page after the first repeats the last record of the one before",
     page_offset=lambda page, count: (page - 1) * count - (1 if page > 1 else 0))
_set("created_at_moves_on_update", "section 5", "an update sets createdAt to now", keep_created_at=False)
_set("updated_at_goes_backward", "section 5", "an update writes updatedAt in local time labelled UTC, an hour "
     "behind", updated_at_shift_hours=-1.0)
_set("stale_reads", "section 5", "GET of a record answers the copy it first read, never refreshed",
     cache_reads=True)


# At scale, under concurrency (SCALE_FAULTS) ----------------------------------------------------------

def _scale(name: str, rule: str, description: str, **fields: Any) -> None:
    _set(name, rule, description, **fields)
    SCALE_FAULTS[name] = FAULTS.pop(name)


_scale("lookup_reads_first_page", "A2", "the match lookup searches only the object's first 100 records, so a value "
       "held by a later one is created again", lookup_window=100)
_scale("list_capped", "section 5", "the record list stops at 1,000 records, whatever the total", list_cap=1000)
_scale("concurrent_creates_lost", "A1", "a create reads the object's records, then writes them back with its "
       "own added: a create that committed in between is lost, although it answered 201", lose_concurrent_creates=True)
