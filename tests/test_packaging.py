"""The project as users install it: packages, the contract document, links, and a plugin that stays out of the way.

The full proof (build the sdist and the wheel, install the wheel into a fresh venv, run every command
from an empty directory) is `scripts/check_install.py`, which `test_the_wheel_installs_and_runs`
runs; the other tests here are fast checks of the same properties on the checkout.
"""

from __future__ import annotations

import ast
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from crm_contract import SUITE
from crm_contract.kit.clauses import CLAUSES, CONTRACT_DOC
from crm_contract.plugin.outcomes import FAILED, INCONCLUSIVE, OK, USAGE, run_exit_code

ROOT = Path(__file__).resolve().parent.parent
ROOTS: dict[str, str] = runpy.run_path(str(ROOT / "setup.py"), run_name="setup")["ROOTS"]
SKIP_DIRS = {".git", ".venv", "venv", ".tox", "build", "dist", "node_modules", "__pycache__", ".hypothesis"}
MAPPED = {folder for folder in ROOTS.values() if folder != "crm_contract"}
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)


def repo_files(suffix: str) -> list[Path]:
    return sorted(path for path in ROOT.rglob(f"*{suffix}")
                  if not any(part in SKIP_DIRS or part.startswith(".") or part.endswith(".egg-info")
                             for part in path.relative_to(ROOT).parts[:-1]))


def anchors_of(markdown: str) -> set[str]:
    """Heading anchors as code hosts name them: lower case, punctuation dropped, spaces to hyphens."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in HEADING.findall(markdown)}


def test_every_package_folder_is_discovered_and_installed_under_crm_contract() -> None:
    discovered = set(runpy.run_path(str(ROOT / "setup.py"), run_name="setup")["discovered"]())
    for installed, folder in ROOTS.items():
        assert installed == "crm_contract" or installed.startswith("crm_contract."), "no generic top-level name"
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            assert ".".join((installed, *relative)) in discovered, f"{init.parent} is missing from the wheel"


def test_no_module_imports_a_folder_by_its_bare_name_or_relatively_from_the_suite() -> None:
    """Installed, `strategies` is `crm_contract.strategies`: a bare import works only in a checkout.

    And pytest imports a checkout's suite modules as `contract_tests.*`: a relative import there would
    load a second copy of a helper (another `ContractViolation` class), so the suite imports absolutely.
    """
    offences = []
    for path in repo_files(".py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] in MAPPED for name in names):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {names}")
            in_suite = path.relative_to(ROOT).parts[0] == "contract_tests"
            if in_suite and isinstance(node, ast.ImportFrom) and node.level:
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} imports relatively")
    assert not offences, "\n".join(offences)


def test_no_markdown_link_points_outside_the_repository() -> None:
    broken = []
    for path in repo_files(".md"):
        for target in LINK.findall(path.read_text()):
            where = f"{path.relative_to(ROOT)}: ({target})"
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                broken.append(f"{where} leaves the repository")
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            if ROOT not in resolved.parents and resolved != ROOT:
                broken.append(f"{where} points outside the repository")
            elif not resolved.exists():
                broken.append(f"{where} names a file that does not exist")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors_of(resolved.read_text()):
                broken.append(f"{where} names a heading that does not exist")
    assert not broken, "\n".join(broken)


def test_the_contract_document_has_every_clause_with_its_tag() -> None:
    text = (ROOT / CONTRACT_DOC).read_text()
    anchors = anchors_of(text)
    for clause in CLAUSES:
        assert clause.anchor in anchors, f"{clause.id}: no heading #{clause.anchor} in {CONTRACT_DOC}"
    rules = dict(re.findall(r"^### (A\d+)\n(.*?)(?=^#)", text, re.MULTILINE | re.DOTALL))
    assert sorted(rules, key=lambda r: int(r[1:])) == [f"A{n}" for n in range(1, 16)]
    for clause in CLAUSES:
        if clause.id in rules:
            tags = set(re.findall(r"\[([DR])\b", rules[clause.id]))
            assert "/".join(sorted(tags)) == clause.tag, f"{clause.id}: the document tags it {tags}"


def test_the_plugin_module_is_cheap_to_import() -> None:
    """pytest loads it for every run in the environment: no HTTP client, no Hypothesis, no server."""
    code = ("import sys, crm_contract.plugin; "
            "print(sorted(m for m in ('httpx', 'hypothesis', 'starlette', 'schemathesis', "
            "'crm_contract.plugin.session', 'crm_contract.reference_server') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_plugin_is_inert_for_a_users_own_tests(tmp_path: Path) -> None:
    """Installed beside a user's tests, it changes nothing: their Hypothesis settings, their output."""
    (tmp_path / "test_mine.py").write_text(
        "import pytest\n"
        "from hypothesis import given, settings, strategies as st\n"
        "from hypothesis.errors import InvalidArgument\n\n"
        "@given(st.integers())\n"
        "def test_default_settings(n):\n"
        "    assert settings().max_examples == 100\n"
        "    with pytest.raises(InvalidArgument):\n"
        "        settings.get_profile('thorough')  # the suite's profiles are not registered\n\n"
        "def test_base_url_option(base_url):\n"
        "    assert base_url == 'http://example.invalid/v2'\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "HYPOTHESIS"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--base-url",
                           "http://example.invalid/v2", "test_mine.py"], cwd=tmp_path, capture_output=True,
                          text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "crm-contract:" not in done.stdout, "no header, no request count: the suite is not running"


@pytest.mark.parametrize("how", ["blocked", "missing"])
def test_without_pytest_base_url_the_plugin_adds_base_url_itself(tmp_path: Path, how: str) -> None:
    """Switched off (-p no:base_url) or not installed (--no-deps): --base-url still works, nothing breaks."""
    (tmp_path / "test_url.py").write_text("def test_url(pytestconfig):\n"
                                          "    assert pytestconfig.getoption('base_url') == 'http://a.invalid/v2'\n")
    hide = "import sys; sys.modules['pytest_base_url'] = None; sys.modules['pytest_base_url.plugin'] = None; " \
        if how == "missing" else ""
    extra = ["-p", "no:base_url"] if how == "blocked" else []
    code = (f"{hide}import pytest, sys; sys.exit(pytest.main(['-p', 'crm_contract.plugin', *{extra!r}, "
            "'-p', 'no:cacheprovider', '-q', '--base-url', 'http://a.invalid/v2', 'test_url.py']))")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the plugins named here: as if pytest-base-url were absent
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_run_exit_codes_tell_a_setup_error_from_no_verdict() -> None:
    assert run_exit_code(0, inconclusive=False) == OK
    assert run_exit_code(1, inconclusive=False) == FAILED
    assert run_exit_code(3, inconclusive=True) == INCONCLUSIVE, "the plugin's status 3: no verdict"
    assert run_exit_code(3, inconclusive=False) == USAGE, "pytest's status 3: an internal error"
    assert run_exit_code(4, inconclusive=False) == USAGE
    assert run_exit_code(2, inconclusive=False) == INCONCLUSIVE, "interrupted"
    assert run_exit_code(2, inconclusive=False, broken_collection=True) == USAGE, "the suite did not import"


def test_a_plugin_that_fails_to_load_is_exit_2_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "crm_contract", "run", "--", "-p", "no_such_plugin_crm"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == USAGE, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("crm-contract: error: the contract suite could not start"), last


@pytest.mark.slow
def test_a_run_ignores_the_pytest_configuration_of_the_working_directory(tmp_path: Path) -> None:
    """Run inside a user's project: its ini options and conftests are the project's, not the suite's."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\nfilterwarnings = error\n"
                                         "testpaths = tests\n")
    for folder in (tmp_path, tmp_path / "tests"):
        folder.mkdir(exist_ok=True)
        (folder / "conftest.py").write_text("raise RuntimeError('the working directory's conftest was loaded')\n")
    env = {**os.environ, "CRM_CONTRACT_CACHE_DIR": str(tmp_path / "cache"), "CRM_CONTRACT_PROGRESS": "no"}
    done = subprocess.run([sys.executable, "-m", "crm_contract", "run", "--", "-k", "test_a1_"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, check=False)
    assert done.returncode == OK, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout


@pytest.mark.slow
def test_a_run_from_an_empty_directory_leaves_only_its_report(tmp_path: Path) -> None:
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    env = {**os.environ, "CRM_CONTRACT_CACHE_DIR": str(cache), "CRM_CONTRACT_PROGRESS": "no"}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run([sys.executable, "-m", "crm_contract", "run", "--report-dir", "r", "--",
                           "-k", "test_a1_"], cwd=work, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == OK, done.stdout + done.stderr
    assert sorted(p.name for p in work.iterdir()) == ["r"], "nothing but the report in the working directory"
    assert (cache / "pytest").is_dir(), "pytest's cache went to the user cache directory"
    plain = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", SUITE, "--report-dir", "plain", "-k",
                            "test_a1_"], cwd=work, env=env, capture_output=True, text=True, check=False)
    assert plain.returncode == OK, plain.stdout + plain.stderr
    assert sorted(p.name for p in work.iterdir()) == ["plain", "r"]


@pytest.mark.slow
def test_the_wheel_installs_and_runs() -> None:
    """scripts/check_install.py: sdist and wheel built, the wheel installed fresh, every command from an empty dir."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_install.py")], capture_output=True,
                          text=True, check=False, timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
