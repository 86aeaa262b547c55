"""The clauses of the contract that reports give a verdict on, in the order of `docs/contract.md`.

A1–A15 are the rules of the assert endpoint (section 6); sections 1 to 5 are the conventions, the
object and attribute calls (the run's own set-up goes through them), the value rules and the record
calls. The tag says where a clause comes from: D documented by Zeeg, R a reference choice where the
documentation is silent, D/R both (part documented, part chosen).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crm_contract.kit.violations import clause_of

__all__ = ["CLAUSES", "CONTRACT_DOC", "Clause", "clause_ids", "clauses_of", "parse_clauses"]

#: The project's contract document, relative to the repository (and the sdist) root.
CONTRACT_DOC = "docs/contract.md"
_SECTIONS = {"section 1": "1-conventions", "section 2": "2-objects-custom-crm-objects", "section 3": "3-attributes",
             "section 4": "4-attribute-values-in-record-bodies", "section 5": "5-records-of-a-custom-object"}


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    tag: str

    @property
    def anchor(self) -> str:
        """The heading of this clause in `CONTRACT_DOC`, as Markdown renderers name it."""
        return _SECTIONS.get(self.id, self.id.lower())

    @property
    def link(self) -> str:
        return f"{CONTRACT_DOC}#{self.anchor}"


CLAUSES: tuple[Clause, ...] = (
    Clause("A1", "No record has the matching value: created, 201, a new id", "D"),
    Clause("A2", "A record has the matching value: updated, 200, the same id", "D"),
    Clause("A3", "Matching is exact: no case folding, wildcards, trimming, normalisation or coercion", "D/R"),
    Clause("A4", "The whole body applies: omitted null on create, kept on update; null clears", "D/R"),
    Clause("A5", "Repeating an assert is idempotent", "D"),
    Clause("A6", "A missing, unknown or system matchingAttribute is 400", "R"),
    Clause("A7", "A missing, null or empty matching value is 400; 0, false and spaces match", "D/R"),
    Clause("A8", "A unique value held by another record is 400; a record's own value is fine", "D"),
    Clause("A9", "Several matches: only the first (oldest) is updated", "D/R"),
    Clause("A10", "A rejected assert changes nothing", "R"),
    Clause("A11", "Concurrent asserts of one new value create exactly one record", "R"),
    Clause("A12", "A deleted record is never matched", "R"),
    Clause("A13", "Matching is scoped to the object in the path", "R"),
    Clause("A14", "Type and length validation applies to every attribute, matching one included", "D"),
    Clause("A15", "Unknown object 404, no token 401, read-only token 403", "D/R"),
    Clause("section 1", "Conventions: envelopes, status codes, auth, methods, the OpenAPI document", "D/R"),
    Clause("section 2", "Objects: a created object is the one asked for, and reads return it", "D/R"),
    Clause("section 3", "Attributes: a created attribute is the one asked for, with a key and option ids", "D/R"),
    Clause("section 4", "Attribute values: types, limits, null, round trips", "D/R"),
    Clause("section 5", "Record calls: create, read, list, patch, delete", "D/R"),
)


def clause_ids() -> list[str]:
    return [clause.id for clause in CLAUSES]


def clauses_of(item: pytest.Item) -> tuple[str, ...]:
    """The clauses named by the `rule` markers of a test (module, class and function), in order, once each."""
    rules = (rule for marker in item.iter_markers("rule") for rule in marker.args)
    return tuple(dict.fromkeys(clause_of(rule) or rule for rule in rules))


def parse_clauses(text: str, option: str = "--clauses") -> frozenset[str]:
    """Clause ids from a list like ``A1,A3-A5,section 4`` (also ``section-4``); ValueError names what is wrong."""
    known = clause_ids()
    numbered = [clause for clause in known if clause.startswith("A")]
    chosen: set[str] = set()
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if dash and first.strip().upper().startswith("A") and last.strip().upper().startswith("A"):
            low, high = _number(first, option), _number(last, option)
            chosen.update(clause for clause in numbered if low <= int(clause[1:]) <= high)
            continue
        name = " ".join(part.replace("-", " ").split())
        name = name[0].upper() + name[1:] if name[:1].lower() == "a" else name.lower()
        if name not in known:
            raise ValueError(f"{option}: no clause {part!r}; the clauses are {', '.join(known)}")
        chosen.add(name)
    if not chosen:
        raise ValueError(f"{option} names no clause")
    return frozenset(chosen)


def _number(text: str, option: str) -> int:
    try:
        return int(text.strip()[1:])
    except ValueError:
        raise ValueError(f"{option}: {text.strip()!r} is not a clause like A3") from None
