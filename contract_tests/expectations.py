"""What each expectation of the suite means under the contract profile in force: the one place that decides.

Every check that depends on a reference choice names the part of the contract it relies on, one of
`PARTS`, each with its rule and its tag from docs/contract.md. `Expectations` (one per run, from the
target's contract profile) then says what that part means: under ``strict`` every part holds; under
``documented`` an [R] part either does not hold at all (`holds` is False: the check is left out) or is
loosened to what the [D] text still guarantees (`status_ok`: a 4xx where only the exact code is [R]).
A check never reads the profile itself.

A failure of an [R] part names it (`label`), so that a target that chose differently is sent to the
reference choice it did not make, not to the documented rule of the test it happened in.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DOCUMENTED_NEAR_MISSES", "PARTS", "Expectations", "Part"]

# Near misses of a known key (strategies.NEAR_MISS_KINDS) whose outcome is documented: case, wildcards
# and accents (A3 [D]: exact equality, no case folding, `_` and `%` ordinary characters; "é" and "e"
# differ in every normal form) and another type (A14 [D]: it is refused). Padding and Unicode normal
# forms rely on exact form, a reference choice (A3 [R]).
DOCUMENTED_NEAR_MISSES = frozenset({"case", "wildcard", "accent", "type"})


@dataclass(frozen=True)
class Part:
    """A part of a contract rule that a check relies on."""

    rule: str
    tag: str  # "D" documented by Zeeg, "R" a reference choice
    text: str


PARTS: dict[str, Part] = {
    # Section 1
    "error-envelope": Part("section 1", "R", "a CRM error answers {success: false, status, message}"),
    # Section 4: values
    "empty-text-value": Part("section 4", "R", "an empty string is a valid text value"),
    "values-round-trip": Part("section 4", "R", "values of every range and form are stored and returned as sent"),
    "shape-status": Part("section 4", "R", "unknown keys, system attributes, a missing or null required "
                         "attribute: exactly 400"),
    # Section 5: records
    "record-lists-every-attribute": Part("section 5", "R", "a record lists every custom attribute, null where unset"),
    "unknown-record-status": Part("section 5", "R", "a PATCH of an unknown record id is exactly 404"),
    "list": Part("section 5", "R", "the record list pages every record once, oldest first, with Zeeg's "
                 "pagination fields"),
    "timestamps": Part("section 5", "R", "updatedAt equals createdAt on create, createdAt is kept, updatedAt "
                       "never moves backward"),
    # Section 6: the assert
    "A3-exact-form": Part("A3", "R", "no trimming, no Unicode normalisation, no type coercion"),
    "A4-null-clears": Part("A4", "R", "an explicit null clears a value"),
    "A6-status": Part("A6", "R", "a missing, unknown or system matchingAttribute is exactly 400"),
    "A7-missing": Part("A7", "R", "a matching value missing from the body is exactly 400"),
    "A10": Part("A10", "R", "a refused assert changes nothing"),
    "A11": Part("A11", "R", "concurrent asserts of one new value create exactly one record"),
    "A12": Part("A12", "R", "a deleted record is never matched"),
    "A13": Part("A13", "R", "matching is scoped to the object in the path"),
    "A15-scope-status": Part("A15", "R", "a write with a token without crm:write is exactly 403 (any refusal is [D])"),
    "A9-oldest": Part("A9", "R", "the first of several matches is the oldest by creation"),
}


@dataclass(frozen=True)
class Expectations:
    """The contract profile in force, asked by every check that relies on an [R] part."""

    profile: str = "strict"

    @property
    def strict(self) -> bool:
        return self.profile == "strict"

    @property
    def documented_only(self) -> bool:
        """Whether the strategies draw only values whose round trip Zeeg documents."""
        return not self.holds("values-round-trip")

    def holds(self, part: str) -> bool:
        """Whether the check of `part` runs: [D] parts always, [R] parts under the strict profile."""
        return PARTS[part].tag == "D" or self.strict

    def near_miss_checked(self, kind: str) -> bool:
        """Whether a near miss of this kind must be told apart from the key it resembles (A3)."""
        return kind in DOCUMENTED_NEAR_MISSES or self.holds("A3-exact-form")

    def status_ok(self, part: str | None, expected: int, got: int) -> bool:
        """`got` is what the contract asks for: `expected` exactly, or any 4xx where its code is [R] and off."""
        if got == expected:
            return True
        return part is not None and not self.holds(part) and 400 <= got < 500

    @staticmethod
    def label(part: str) -> str:
        """The failure label of `part`: its rule, tag and what it says, e.g. "A6 [R: ... exactly 400]"."""
        found = PARTS[part]
        return f"{found.rule} [{found.tag}: {found.text}]"
