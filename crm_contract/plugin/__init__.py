"""The pytest plugin of the contract suite, registered by the ``pytest11`` entry point.

Installed, it is loaded by every pytest run in the environment, including runs of a user's own tests.
So this module is cheap (it imports pytest and the standard library only) and inert: it adds its
options and markers, and nothing else, unless the contract suite is being collected
(``pytest --pyargs crm_contract.contract_tests``, or a path inside it) or one of its own options is
given. Only then does it load the suite's session (``crm_contract.plugin.session``: Hypothesis profiles, the
target fixture, the outcome, progress and report plugins), and only then are Hypothesis settings or
pytest's cache touched.

``--base-url`` (with ``PYTEST_BASE_URL`` and the ini key ``base_url``) belongs to pytest-base-url, a
dependency, which pytest-playwright and pytest-selenium use as well: this plugin reads that option
rather than defining its own, so the two are installed side by side without a clash. Only where
pytest-base-url was switched off (``-p no:base_url``) does this plugin add the same option itself.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from crm_contract.kit.target import CONTRACT_PROFILES  # the standard library and crm_contract.errors only

__all__ = ["CONTRACT_PROFILES", "suite_requested"]

PROGRESS_MODES = ("auto", "yes", "no")
BASE_URL_PLUGIN = "base_url"  # pytest-base-url's entry point name
# dests of the options that only make sense for the suite: any of them given switches the plugin on
OWN_OPTIONS = ("crm_target", "token", "read_token", "crm_object", "matching_attribute", "contract_profile",
               "crm_report_dir", "crm_replay", "crm_max_examples", "crm_max_time", "crm_max_failures", "crm_clauses",
               "crm_skip_clauses", "crm_quiet", "crm_ndjson", "crm_har", "crm_progress", "crm_rate_limit",
               "crm_max_requests", "crm_max_slowdown", "crm_request_timeout", "crm_example_db")
_ACTIVE = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    _ensure_base_url_option(parser, pluginmanager)
    group = parser.getgroup("crm-contract", "Zeeg CRM contract suite (crm-contract)")
    group.addoption("--crm-target", dest="crm_target", metavar="FILE",
                    help="the target as crm-contract's runner hands it over, checked already (tokens in the "
                    "environment); set by crm-contract run, not by hand")
    group.addoption("--token", help="API token with crm:write (env ZEEG_API_TOKEN)")
    group.addoption("--read-token", help="API token with crm:read only (env ZEEG_API_READ_TOKEN)")
    group.addoption("--object", dest="crm_object", metavar="SLUG", help="an existing object to assert into")
    group.addoption("--matching-attribute", metavar="KEY", help="the matching attribute of --object")
    group.addoption(
        "--contract-profile",
        choices=CONTRACT_PROFILES,
        default=None,
        help="strict (default): documented rules and reference choices; documented: documented rules only",
    )
    group.addoption("--report-dir", dest="crm_report_dir", metavar="DIR",
                    help="write report.json, junit.xml, report.html and replay files of failures there")
    group.addoption("--crm-replay", metavar="FILE", help="run only the test of this replay file, with its example")
    group.addoption("--rate-limit", dest="crm_rate_limit", metavar="N/s",
                    help="never send more than N requests a second (N, N/s, N/m or N/h); a 429 slows the run "
                    "down further by itself")
    group.addoption("--max-requests", dest="crm_max_requests", metavar="N", type=int,
                    help="send at most N requests from test bodies; the tests not reached are reported not run")
    group.addoption("--max-slowdown", dest="crm_max_slowdown", metavar="X", type=float,
                    help="when waiting on a throttled target would make the run more than X times slower, run "
                    "fewer examples per test (default 2; 0: never)")
    group.addoption("--request-timeout", dest="crm_request_timeout", metavar="SECONDS", type=float,
                    help="seconds to wait for an answer (default 15)")
    group.addoption("--crm-example-db", dest="crm_example_db", metavar="DIR|redis://…|github:OWNER/REPO|none",
                    help="Hypothesis's example database, so that the counterexamples of one run are tried first by "
                    "the next (crm_contract.kit.example_db)")
    group.addoption("--crm-max-examples", dest="crm_max_examples", metavar="N", type=int,
                    help="examples per property test, whatever the Hypothesis profile says")
    group.addoption("--crm-max-time", dest="crm_max_time", metavar="SECONDS", type=float,
                    help="start no test after this many seconds of the run; the rest is reported not run")
    group.addoption("--crm-max-failures", dest="crm_max_failures", metavar="N", type=int,
                    help="stop after N tests failed with a verdict (inconclusive ones do not count)")
    group.addoption("--crm-clauses", dest="crm_clauses", metavar="IDS",
                    help="run only the tests of these clauses (A1,A3-A5,section 4); the others are not run")
    group.addoption("--crm-skip-clauses", dest="crm_skip_clauses", metavar="IDS",
                    help="leave out the tests of these clauses, and report those clauses not run")
    group.addoption("--crm-quiet", dest="crm_quiet", action="store_true", default=False,
                    help="the clause summary names only the clauses that did not pass")
    group.addoption("--crm-ndjson", dest="crm_ndjson", metavar="FILE",
                    help="stream one JSON line per test as it ends, then one per clause and one for the run")
    group.addoption("--crm-har", dest="crm_har", metavar="FILE",
                    help="write every exchange with the target as HAR 1.2 (tokens and secret headers redacted)")
    group.addoption(
        "--crm-progress",
        choices=PROGRESS_MODES,
        default=None,
        help="a live status line while the suite runs: auto (when stdout is a terminal, not in CI), yes, no "
        "[env CRM_CONTRACT_PROGRESS=auto|yes|no|1|0]; never with -v, -s or live logging",
    )


def _ensure_base_url_option(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """``--base-url`` from pytest-base-url, registered here when its entry point has not run yet.

    When this plugin is loaded first (``-p crm_contract.plugin``, or entry points in another
    order), pytest-base-url is registered under its entry point name now, so that pytest skips the entry
    point later and registers it once. Where it was blocked (``-p no:base_url``), the same option is
    added here, so the suite still takes a base URL.
    """
    if pluginmanager.has_plugin(BASE_URL_PLUGIN):
        return
    if not pluginmanager.is_blocked(BASE_URL_PLUGIN):
        try:
            import pytest_base_url.plugin
        except ImportError:  # installed without its dependencies: the option comes from here then
            pass
        else:
            if not pluginmanager.is_registered(pytest_base_url.plugin):
                pluginmanager.register(pytest_base_url.plugin, BASE_URL_PLUGIN)
            return
    parser.addini("base_url", "base URL of the API under test, ending in /v2", default=None)
    parser.getgroup("crm-contract").addoption(
        "--base-url", default=os.environ.get("PYTEST_BASE_URL"),
        help="base URL of the API under test, ending in /v2 (env PYTEST_BASE_URL, ini base_url)",
    )


@pytest.hookimpl(tryfirst=True)  # before Hypothesis's plugin loads --hypothesis-profile, which may be ours
def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "rule(*ids): the contract rules a test checks, e.g. rule('A1')",
        "documented: checks documented [D] behaviour only; runs under every contract profile",
        "reference: checks a reference choice [R]; runs only under the strict contract profile",
        "long: sends many requests one after another; on several workers it starts first, one to a worker",
    ):
        config.addinivalue_line("markers", line)
    config.stash[_ACTIVE] = active = suite_requested(config)
    if active:
        from crm_contract.plugin import session

        session.start(config)


def suite_requested(config: pytest.Config) -> bool:
    """True when this run collects the contract suite or uses one of the suite's own options."""
    if any(config.getoption(name, None) for name in OWN_OPTIONS):
        return True
    spec = importlib.util.find_spec("crm_contract.contract_tests")
    if spec is None or spec.origin is None:
        return False
    suite = Path(spec.origin).resolve().parent
    for arg in config.args:
        path = _arg_path(arg.split("::")[0], config)
        if path is not None and (path == suite or suite in path.parents or path in suite.parents):
            return True
    return False


def _arg_path(arg: str, config: pytest.Config) -> Path | None:
    """The file or folder a collection argument names: a path, or with ``--pyargs`` possibly a module."""
    if config.getoption("pyargs", False) and arg and "/" not in arg and os.sep not in arg:
        try:
            spec = importlib.util.find_spec(arg)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            origin = Path(spec.origin).resolve()
            return origin.parent if spec.submodule_search_locations else origin
    candidate = Path(arg)
    if not candidate.is_absolute():
        candidate = config.invocation_params.dir / candidate
    return candidate.resolve() if candidate.exists() else None
