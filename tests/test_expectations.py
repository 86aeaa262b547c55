"""One place decides what a reference choice [R] means under the profile in force: contract_tests/expectations.py.

These tests walk the suite's expectations: no check reads the profile itself, no [R] part can fail
under the documented profile (left out, or loosened to any 4xx), and every part names a clause of the
contract with the tag docs/contract.md gives it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from crm_contract.contract_tests.expectations import DOCUMENTED_NEAR_MISSES, PARTS, Expectations
from crm_contract.reference_server.faults import BREAKS_ONLY_REFERENCE, FAULTS
from crm_contract.strategies import NEAR_MISS_KINDS

from crm_contract.kit.clauses import CLAUSES
from crm_contract.kit.violations import clause_of

SUITE = Path(__file__).resolve().parent.parent / "contract_tests"
DOCUMENTED, STRICT = Expectations("documented"), Expectations("strict")


def test_no_check_reads_the_contract_profile_itself() -> None:
    """`strict`, `contract_profile` and `documented_only=not ...` belong to expectations.py alone."""
    offences = []
    for path in sorted(SUITE.glob("*.py")):
        if path.name == "expectations.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else \
                node.arg if isinstance(node, ast.keyword) else None
            if isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant):
                continue  # zip(..., strict=True): Python's own keyword, not the profile
            if name in ("strict", "contract_profile"):
                offences.append(f"{path.name}:{getattr(node, 'lineno', '?')} uses {name!r}")
    assert not offences, "decide through Expectations.holds(part):\n" + "\n".join(offences)


@pytest.mark.parametrize("part", sorted(PARTS))
def test_no_reference_part_can_fail_under_the_documented_profile(part: str) -> None:
    tag = PARTS[part].tag
    assert STRICT.holds(part), "strict checks every part"
    assert DOCUMENTED.holds(part) is (tag == "D")
    for got in (400, 403, 404, 409, 422):
        assert DOCUMENTED.status_ok(part, 400, got) is (tag == "R" or got == 400), "an [R] code: any 4xx will do"
    assert not DOCUMENTED.status_ok(part, 400, 500) and not DOCUMENTED.status_ok(part, 400, 201), "never a non-4xx"
    assert STRICT.status_ok(part, 400, 400) and not STRICT.status_ok(part, 400, 422), "strict: the exact code"


@pytest.mark.parametrize("part", sorted(PARTS))
def test_every_part_names_a_clause_and_its_tag(part: str) -> None:
    found = PARTS[part]
    clause = clause_of(found.rule)
    assert clause in {c.id for c in CLAUSES}, f"{part}: {found.rule!r} is not a clause"
    tag = next(c.tag for c in CLAUSES if c.id == clause)
    assert found.tag in tag.split("/"), f"{part} is [{found.tag}] but {clause} is [{tag}] in docs/contract.md"
    label = Expectations.label(part)
    assert label.startswith(found.rule) and f"[{found.tag}: " in label and clause_of(label) == clause


def test_exact_status_without_a_part_is_documented_everywhere() -> None:
    assert not DOCUMENTED.status_ok(None, 400, 422) and DOCUMENTED.status_ok(None, 400, 400)


def test_documented_near_misses_are_near_miss_kinds() -> None:
    assert DOCUMENTED_NEAR_MISSES <= set(NEAR_MISS_KINDS)
    assert {"whitespace", "nfc", "nfd"} & DOCUMENTED_NEAR_MISSES == set(), "exact form is a reference choice"
    assert all(DOCUMENTED.near_miss_checked(kind) for kind in DOCUMENTED_NEAR_MISSES)
    assert all(STRICT.near_miss_checked(kind) for kind in NEAR_MISS_KINDS)


def test_faults_of_reference_choices_are_faults_of_rules_with_an_r_part() -> None:
    assert set(BREAKS_ONLY_REFERENCE) <= set(FAULTS)
    tags = {c.id: c.tag for c in CLAUSES}
    for name in BREAKS_ONLY_REFERENCE:
        assert "R" in tags[clause_of(FAULTS[name].rule) or ""], f"{name} breaks {FAULTS[name].rule}, which has no [R]"
    for name, fault in FAULTS.items():
        if tags[clause_of(fault.rule) or ""] == "R":
            assert name in BREAKS_ONLY_REFERENCE, f"{name} breaks an [R] rule ({fault.rule}) yet is listed as [D]"
