"""The contract suite's pytest session: Hypothesis profiles, the target, and the run's plugins.

``crm_contract.plugin`` calls `start` from its ``pytest_configure`` when the contract suite is
collected (or its options are used), and never otherwise: nothing here runs for a user's own tests.
`start` registers the Hypothesis profiles, puts Hypothesis's storage and pytest's cache in the user
cache directory (`cache_root`), registers this module (the ``target`` fixture, the report header, the
profile filter) and the run's plugins: the outcome (exit statuses), the live progress line, and the
recorder of ``--report-dir``.

The target is chosen by options, like pytest-base-url: ``--base-url`` (or ``PYTEST_BASE_URL``, or the
ini key ``base_url``) with ``--token`` (or ``ZEEG_API_TOKEN``). Without a base URL the session starts
the embedded reference server on a free loopback port and targets it.

Exit statuses are those of ``crm-contract run``, under plain pytest too: 0 every test passed, 1 a
contract test failed, 3 inconclusive (the only failures were tests the target left without a verdict,
see ``crm_contract.plugin.outcomes``; they are reported as INCONCLUSIVE, with the reason). A wrong URL, token
or object ends the session with pytest's own usage-error status, 4, which ``crm-contract run`` reports
as 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import UnsatisfiedAssumption

from crm_contract.contract_tests.expectations import PARTS
from crm_contract.errors import INCONCLUSIVE, TargetUnusable, UsageError
from crm_contract.kit.cache import cache_root
from crm_contract.kit.client import ContractClient, OutcomeUnknown, TargetInconclusive
from crm_contract.kit.pace import Pace, parse_rate
from crm_contract.kit.redaction import Redactor
from crm_contract.kit.target import READ_TOKEN_ENV, TOKEN_ENV, Target
from crm_contract.plugin.outcomes import RunOutcome
from crm_contract.plugin.workers import is_controller, is_worker, worker_input

__all__ = ["DiscardedExample", "contract_profile", "register_profiles", "selected_clauses", "start", "target_of"]

R_PARTS = [name for name, part in PARTS.items() if part.tag == "R"]
_OUTCOME = pytest.StashKey[RunOutcome]()
_LEFT_OUT = pytest.StashKey[int]()
_TARGET = pytest.StashKey[Target]()  # the target as the options give it (an embedded one not started yet)
_CHECKED = pytest.StashKey[bool]()  # the runner checked it already (--crm-target): no second pre-flight
_SELECTED = pytest.StashKey[frozenset[str]]()  # the clauses --crm-clauses / --crm-skip-clauses leave in
_SHARED_PACE = pytest.StashKey[Path]()  # pytest-xdist's controller: the file of the run's shared pace


class DiscardedExample(OutcomeUnknown, UnsatisfiedAssumption):
    """A write of the example lost its answer: Hypothesis discards the example and draws another.

    The example's checks cannot be trusted (the target's state is not known), but every example works
    on records and objects of its own, so the next one starts clean. A test whose examples are
    discarded too often ends inconclusive (see `crm_contract.plugin.outcomes`).
    """



def register_profiles() -> None:
    """The suite's Hypothesis profiles ``dev``, ``ci`` and ``thorough``.

    Every profile talks to a network target, so none has a deadline. "ci" keeps Hypothesis's own CI
    settings (derandomized, no example database) and is the one Hypothesis loads by itself under CI.
    The explain phase replays a failure many times over the network for little gain, and short
    sequences shrink fast: most assert bugs show within a few steps. `thorough` goes deeper and longer:
    200 examples a test and 50-step sequences run in tens of minutes on two cores, not hours.
    print_blob: every failure carries Hypothesis's blob of the shrunk example, for replay files.
    """
    fast: dict[str, Any] = {
        "deadline": None, "phases": [p for p in Phase if p is not Phase.explain], "report_multiple_bugs": False,
        "print_blob": True,
    }
    settings.register_profile("dev", max_examples=10, stateful_step_count=15, **fast)
    settings.register_profile("ci", settings.get_profile("ci"), max_examples=50, stateful_step_count=20, **fast)
    settings.register_profile(
        "thorough", max_examples=200, stateful_step_count=50, suppress_health_check=[HealthCheck.too_slow], **fast
    )
    if settings.get_current_profile_name() == "default":
        settings.load_profile("dev")


def start(config: pytest.Config) -> None:
    """Set up a session that runs the contract suite (called from the plugin's ``pytest_configure``)."""
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        from hypothesis.configuration import set_hypothesis_home_dir

        set_hypothesis_home_dir(cache_root() / "hypothesis")
    register_profiles()
    ContractClient.unknown_outcome = DiscardedExample
    try:
        config.stash[_TARGET] = target_from_options(config)
    except UsageError as error:
        raise pytest.UsageError(error.message) from None
    config.stash[_SELECTED] = clause_selection(config)
    outcome = config.stash[_OUTCOME] = RunOutcome(pace_from(config), config)
    outcome.max_time = positive(config, "crm_max_time", "--max-time")
    outcome.max_failures = positive(config, "crm_max_failures", "--max-failures")
    ContractClient.wait_listeners.append(outcome.traffic.pace.waited_for)
    config.pluginmanager.register(sys.modules[__name__], "crm-contract-session")
    config.pluginmanager.register(outcome, "crm-contract-outcome")
    from crm_contract.plugin.progress import Progress  # inert unless a person watches a terminal

    report_dir, replay = config.getoption("crm_report_dir"), config.getoption("crm_replay")
    from crm_contract.plugin.recorder import Recorder  # always: the terminal's fidelity summary comes from it too

    recorder = Recorder(config, outcome, Path(report_dir) if report_dir else None)
    config.pluginmanager.register(recorder, "crm-contract-recorder")
    if not is_worker(config):  # a worker's output is not a terminal: the controller draws the line
        requests = (lambda: recorder.reported_requests) if is_controller(config) else (lambda: outcome.traffic.sent)
        config.pluginmanager.register(Progress(config, requests), "crm-contract-progress")
    if replay:
        from crm_contract.plugin.replaying import Replaying

        config.pluginmanager.register(Replaying.load(replay), "crm-contract-replay")


def positive(config: pytest.Config, name: str, option: str) -> Any:
    value = config.getoption(name)
    if value is not None and value <= 0:
        raise pytest.UsageError(f"{option} must be more than 0")
    return value


def clause_selection(config: pytest.Config) -> frozenset[str]:
    """The clauses whose tests run: every one, or those of --crm-clauses, less those of --crm-skip-clauses."""
    from crm_contract.kit.clauses import clause_ids, parse_clauses

    try:
        chosen = parse_clauses(config.getoption("crm_clauses"), "--clauses") if config.getoption("crm_clauses") \
            else frozenset(clause_ids())
        left_out = config.getoption("crm_skip_clauses")
        return chosen - (parse_clauses(left_out, "--skip-clauses") if left_out else frozenset())
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def selected_clauses(config: pytest.Config) -> frozenset[str] | None:
    """The clauses the run checks, or None when they are all of them."""
    from crm_contract.kit.clauses import clause_ids

    chosen = config.stash.get(_SELECTED, None)
    return None if chosen is None or chosen == frozenset(clause_ids()) else chosen


def pace_from(config: pytest.Config) -> Pace:
    """The run's pace from --rate-limit, --max-requests and --max-slowdown (see `crm_contract.kit.pace`)."""
    rate = config.getoption("crm_rate_limit")
    try:
        ceiling = parse_rate(rate) if rate else None
    except ValueError as error:
        raise pytest.UsageError(f"--rate-limit {error}") from None
    budget = config.getoption("crm_max_requests")
    if budget is not None and budget < 1:
        raise pytest.UsageError("--max-requests must be at least 1")
    slowdown = config.getoption("crm_max_slowdown")
    if slowdown is not None and slowdown < 0:
        raise pytest.UsageError("--max-slowdown must be 0 (never trim) or more")
    shared = worker_input(config).get("crm_pace")
    if is_controller(config):  # the workers share one pace: its numbers in a file the controller makes
        import tempfile

        from crm_contract.kit.pace import SharedState

        path = Path(tempfile.mkdtemp(prefix="crm-contract-pace-")) / "pace"
        SharedState.create(path, ceiling).close()
        config.stash[_SHARED_PACE] = path
    return Pace(ceiling=ceiling, max_requests=budget, max_slowdown=2.0 if slowdown is None else slowdown,
                shared=Path(shared) if shared else None)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's controller, for each worker: the run's shared pace, and whether the target was probed."""
    config = node.config
    if _SHARED_PACE in config.stash:
        node.workerinput["crm_pace"] = str(config.stash[_SHARED_PACE])
    node.workerinput["crm_checked"] = config.stash.get(_CHECKED, False)


def pytest_unconfigure(config: pytest.Config) -> None:
    shared = config.stash.get(_SHARED_PACE, None)
    if shared is not None:
        import shutil

        shutil.rmtree(shared.parent, ignore_errors=True)


def target_from_options(config: pytest.Config) -> Target:
    """The target of the options: the one a runner checked (--crm-target), a --base-url, or the embedded server.

    Only a target the runner handed over is not checked again; one given to plain pytest is validated
    here and probed by the ``target`` fixture.
    """
    handed = config.getoption("crm_target")
    config.stash[_CHECKED] = bool(handed) or bool(worker_input(config).get("crm_checked"))
    if handed:
        return Target.load(handed)
    token = config.getoption("token") or os.environ.get(TOKEN_ENV)
    read_token = config.getoption("read_token") or os.environ.get(READ_TOKEN_ENV)
    profile, timeout = config.getoption("contract_profile"), config.getoption("crm_request_timeout")
    base_url = _base_url(config)
    if not base_url:
        return Target.embedded_reference(token, read_token, contract_profile=profile, timeout=timeout)
    return Target.from_options(base_url, token, read_token, contract_profile=profile, timeout=timeout,
                               object_slug=config.getoption("crm_object"),
                               matching_attribute=config.getoption("matching_attribute"))


def target_of(config: pytest.Config) -> Target:
    return config.stash[_TARGET]


def contract_profile(config: pytest.Config) -> str:
    """The target's profile: asked for, else documented for a target given by --base-url, strict for ours."""
    return target_of(config).contract_profile


def strict_adds(config: pytest.Config) -> int | None:
    """How many tests of reference choices the documented profile left out (None under strict)."""
    return config.stash.get(_LEFT_OUT, None)


# The hooks and the fixture below take effect through `start`, which registers this module.


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts its workers, which are told the target is checked
def pytest_sessionstart(session: pytest.Session) -> None:
    """pytest's cache in `cache_root` too, unless the user chose a cache_dir (``-o cache_dir=``, an ini file);
    --crm-max-examples over the Hypothesis profile in force (loaded by now, --hypothesis-profile included);
    under pytest-xdist, the one pre-flight of a target given to plain pytest, before any worker starts."""
    config = session.config
    chosen = target_of(config)
    if is_controller(config) and not config.stash[_CHECKED] and not chosen.embedded:
        _preflight(config, chosen)
        config.stash[_CHECKED] = True
    wanted = config.getoption("crm_max_examples")
    if wanted is not None:
        if wanted < 1:
            raise pytest.UsageError("--max-examples must be at least 1")
        name = settings.get_current_profile_name()
        settings.register_profile(name, settings.get_profile(name), max_examples=wanted)
        settings.load_profile(name)
    if config.getoption("crm_example_db"):
        use_example_db(config, config.getoption("crm_example_db"))
    cache = getattr(config, "cache", None)
    if cache is None or config.getini("cache_dir") != ".pytest_cache":
        return
    from _pytest.cacheprovider import Cache

    config.cache = Cache(cache_root() / "pytest", config, _ispytest=True)


def use_example_db(config: pytest.Config, spec: str) -> None:
    """--example-db over the Hypothesis profile in force (see `crm_contract.kit.example_db`).

    Hypothesis uses no database under ``derandomize`` or a global seed (``--hypothesis-seed``). With a
    database, the run's seed (--seed; 0 for a derandomized profile) seeds each test on its own instead
    (`examples.seeding`): the run stays repeatable, and the saved examples still come first.
    """
    from hypothesis import core

    from crm_contract.kit import examples
    from crm_contract.kit.example_db import open_example_db

    try:
        database = open_example_db(spec, cache_root() / "hypothesis" / "examples")
    except ValueError as error:
        raise pytest.UsageError(f"--example-db {error}") from None
    name = settings.get_current_profile_name()
    current = settings.get_profile(name)
    if database is None:
        settings.register_profile(name, current, database=None)
    else:
        seed = core.global_force_seed if core.global_force_seed is not None else 0 if current.derandomize else None
        settings.register_profile(name, current, derandomize=False, database=database)
        core.global_force_seed = None
        examples.seeding(seed)
    settings.load_profile(name)


def pytest_report_header(config: pytest.Config) -> str:
    where = target_of(config).public_url if target_of(config).base_url else "the embedded reference server"
    seed = config.getoption("--hypothesis-seed", None)  # so that a failing run can be repeated
    header = (f"crm-contract: target {where}, contract profile {contract_profile(config)}, "
              f"hypothesis profile {settings.get_current_profile_name()}")
    return header if seed is None else f"{header}, seed {seed}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not item.nodeid.endswith(item.name):
            _own_node_id(item, f"{item.nodeid.rpartition('::')[0]}::{item.name}")
    chosen = selected_clauses(config)
    if chosen is not None:
        from crm_contract.kit.clauses import clauses_of

        kept = [item for item in items if set(clauses_of(item)) & chosen]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    if contract_profile(config) == "strict":
        return
    skip = pytest.mark.skip(reason="checks a reference choice [R]; contract profile is 'documented'")
    left_out = 0
    for item in items:
        if item.get_closest_marker("reference"):
            item.add_marker(skip)
            left_out += 1
    config.stash[_LEFT_OUT] = left_out


def _own_node_id(item: pytest.Item, nodeid: str) -> None:
    """Schemathesis gives every operation of a test one node id; pytest counts progress ([NN%]) by node
    id, so each gets its own, with the name that tells it apart. pytest keeps it privately (`_id` since
    9, `_nodeid` before); where neither is there, the shared id stays and only the percentage is off."""
    try:
        if hasattr(item, "_id"):
            from _pytest.nodes import coerce_node_id

            item._id = coerce_node_id(nodeid)
        elif hasattr(item, "_nodeid"):
            item._nodeid = nodeid
    except (ImportError, TypeError, ValueError):
        pass


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    left_out = strict_adds(config)
    if left_out is not None:
        terminalreporter.write_line(
            f"crm-contract: contract profile documented: --profile strict adds {left_out} tests of reference "
            f"choices [R] and the [R] parts of the documented tests ({len(R_PARTS)} kinds of check)")


def _base_url(config: pytest.Config) -> str | None:
    value = config.getoption("base_url", None) or os.environ.get("PYTEST_BASE_URL") or config.getini("base_url")
    return str(value).rstrip("/") if value else None


def _preflight(config: pytest.Config, target: Target) -> None:
    """The pre-flight of a target given to plain pytest, counted in the run's requests.

    A wrong URL or token ends the session as a set-up error (4), not as a failure of every test; a target
    that keeps failing, as inconclusive (3).
    """
    try:
        config.stash[_OUTCOME].preflight += target.preflight()
    except TargetUnusable as error:
        pytest.exit(error.message, returncode=4)
    except TargetInconclusive as error:
        config.stash[_OUTCOME].declared_inconclusive = True
        pytest.exit(f"inconclusive: {error}", returncode=INCONCLUSIVE)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The API under test; without a base URL, an embedded reference server for the session."""
    config = request.config
    chosen = target_of(config).with_traffic(config.stash[_OUTCOME].traffic)
    if not chosen.embedded and not config.stash[_CHECKED]:
        _preflight(config, chosen)
    from crm_contract.hosting.embedded import started  # starts a server only for an embedded target

    try:
        with started(chosen) as ready:
            yield _announced(config, ready)
    except UsageError as error:
        pytest.exit(error.message, returncode=4)


def _announced(config: pytest.Config, target: Target) -> Target:
    """`target`, made known to the recorder and to the failure reports, which redact its tokens."""
    config.stash[_OUTCOME].redactor = Redactor(target.secrets)
    recorder = config.pluginmanager.get_plugin("crm-contract-recorder")
    if recorder is not None:
        recorder.use_target(target)
    return target
