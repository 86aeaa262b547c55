"""The one way to run the contract suite: a `Target` and `RunOptions` in, a `RunResult` out.

Every command that runs the suite (`run`, `compare`, `replay`, `zoo`) calls `run_suite`; none builds a
command line of its own. The target comes in built and validated (`crm_contract.kit.target`); here it
is probed once (the pre-flight: a wrong URL or token is exit 2, a target that keeps failing exit 3),
after the embedded reference server is started when the target is it, and pytest runs the suite in a child
process that is handed the checked target (a file without the tokens, the tokens in its environment)
and does not check it again.

Why a child and not ``pytest.main`` in this process: pytest must import and rewrite the suite's
modules before anything else imports them, and Hypothesis, the client's class-level listeners and
the run's plugins keep process-wide state; a second run in the same process (compare, the zoo's
matrix) would inherit the first one's. A child also lets a Ctrl-C be passed on exactly once, so that
the suite tears down and cleans up, and dies with this process when it is killed. The embedded
server runs here, in this process, so the child sees only HTTP, as against any other target.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from crm_contract import PLUGIN, SUITE
from crm_contract.errors import INCONCLUSIVE, USAGE, UsageError
from crm_contract.kit.cache import cache_root
from crm_contract.kit.target import READ_TOKEN_ENV, TOKEN_ENV, Target

__all__ = [
    "AUTO_REMOTE_WORKERS", "CLOCK_START", "GRACE", "HYPOTHESIS_PROFILES", "PREFLIGHT_REQUESTS", "RUN_ID_ENV",
    "TARGET_OPTION", "VERDICT_FILE", "RunOptions", "RunResult", "run_suite", "suite_invocation", "worker_count",
]

GRACE = 120  # seconds an interrupted run gets to clean up
RUN_ID_ENV = "CRM_CONTRACT_RUN_ID"  # read by crm_contract.strategies.keys: the prefix of the run's data
# When the run started (seconds since the epoch), so that "first violation after N s" counts from the
# user's command, start-up included.
CLOCK_START = "CRM_CONTRACT_CLOCK_START"
# Where the session writes the run's exit code when it ends. pytest's own status cannot say it alone: 3 is
# both pytest's internal error and the plugin's "inconclusive", and a plugin that failed to load leaves a
# traceback and status 1. No file means the suite never ran: exit 2.
VERDICT_FILE = "CRM_CONTRACT_VERDICT_FILE"
TARGET_OPTION = "--crm-target"  # the checked target, as `Target.save` wrote it
PREFLIGHT_REQUESTS = "CRM_CONTRACT_PREFLIGHT_REQUESTS"  # the requests of the runner's pre-flight, for the report
HYPOTHESIS_PROFILES = ("dev", "ci", "thorough")


@dataclass(frozen=True)
class RunOptions:
    """How the suite runs, whatever the target."""

    hypothesis_profile: str | None = None  # dev, ci or thorough; None: ci in CI, else dev
    seed: int | None = None
    exitfirst: bool = False
    rate_limit: str | None = None  # N/s, N/m or N/h (`crm_contract.kit.pace.parse_rate`)
    max_requests: int | None = None
    max_slowdown: float | None = None
    max_examples: int | None = None  # examples per property test, over the profile
    max_time: float | None = None  # seconds after which no test starts
    max_failures: int | None = None  # tests failed with a verdict after which the run stops
    clauses: str | None = None  # run only the tests of these clauses (A1,A3-A5,section 4)
    skip_clauses: str | None = None
    progress: str | None = None  # the live status line: auto, yes or no
    quiet: bool = False  # pytest -q, and a clause summary of the clauses that did not pass
    color: str | None = None  # yes, no, or None: pytest decides (a terminal, NO_COLOR, FORCE_COLOR)
    ndjson: Path | None = None  # stream test and clause events there
    har: Path | None = None  # every exchange there, as HAR
    workers: str | int | None = None  # processes (pytest-xdist): N, "auto", or None/1 for this one
    example_db: str | None = None  # Hypothesis's example database: a directory, redis://..., github:owner/repo
    report_dir: Path | None = None
    replay: Path | None = None  # run only the test of this replay file, with its example
    pytest_args: tuple[str, ...] = ()
    capture: bool = False  # keep the output in `RunResult.output` instead of printing it
    probe: bool = True  # the pre-flight; False when the caller probed the target already (compare)
    started: float | None = None  # when the user's command started (default: now)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    def check(self) -> None:
        """Every check of the options, before anything runs."""
        from crm_contract.kit.pace import parse_rate

        if self.hypothesis_profile is not None and self.hypothesis_profile not in HYPOTHESIS_PROFILES:
            raise UsageError(f"the Hypothesis profile must be one of {', '.join(HYPOTHESIS_PROFILES)}")
        if self.rate_limit:
            try:
                parse_rate(self.rate_limit)
            except ValueError as error:
                raise UsageError(f"--rate-limit {error}") from None
        if self.workers is not None:
            worker_count(self.workers, embedded=False)  # the check: a number of at least 1, or auto
        if self.example_db:
            from crm_contract.kit.example_db import check_example_db

            try:
                check_example_db(self.example_db)
            except ValueError as error:
                raise UsageError(f"--example-db {error}") from None
        if self.max_requests is not None and self.max_requests < 1:
            raise UsageError("--max-requests must be at least 1")
        if self.max_slowdown is not None and self.max_slowdown < 0:
            raise UsageError("--max-slowdown must be 0 (never trim) or more")
        for option, value in (("--max-examples", self.max_examples), ("--max-failures", self.max_failures),
                              ("--max-time", self.max_time)):
            if value is not None and not value > 0:
                raise UsageError(f"{option} must be more than 0")
        from crm_contract.kit.clauses import parse_clauses

        for option, text in (("--clauses", self.clauses), ("--skip-clauses", self.skip_clauses)):
            if text:
                try:
                    parse_clauses(text, option)
                except ValueError as error:
                    raise UsageError(str(error)) from None
        if self.report_dir is not None:
            try:
                self.report_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UsageError(f"cannot create the report directory {self.report_dir}: {error.strerror}") from None

    def arguments(self) -> list[str]:
        """The suite's own pytest options for these run options."""
        args = ["--strict-markers"]
        if self.hypothesis_profile:
            args += ["--hypothesis-profile", self.hypothesis_profile]
        if self.seed is not None:
            args += ["--hypothesis-seed", str(self.seed)]
        if self.exitfirst:
            args.append("--exitfirst")
        for option, value in (("--rate-limit", self.rate_limit or None), ("--max-requests", self.max_requests),
                              ("--max-slowdown", self.max_slowdown),
                              ("--crm-max-examples", self.max_examples), ("--crm-max-time", self.max_time),
                              ("--crm-max-failures", self.max_failures), ("--crm-clauses", self.clauses),
                              ("--crm-skip-clauses", self.skip_clauses), ("--crm-progress", self.progress)):
            if value is not None:
                args += [option, str(value)]
        if self.quiet:
            args += ["-q", "--crm-quiet"]
        if self.color is not None:
            args.append(f"--color={self.color}")
        for option, path in (("--crm-ndjson", self.ndjson), ("--crm-har", self.har)):
            if path is not None:
                args += [option, str(path.resolve())]
        if self.report_dir is not None:
            args += ["--report-dir", str(self.report_dir.resolve())]
        if self.replay is not None:
            args += ["--crm-replay", str(self.replay.resolve())]
        if self.example_db:
            args += ["--crm-example-db", self.example_db]
        return [*args, *self.pytest_args]


@dataclass(frozen=True)
class RunResult:
    """How a run ended: its exit code (0/1/2/3), where its report is, and its output when captured."""

    exit_code: int
    report_dir: Path | None = None
    output: str = ""
    interrupted: bool = False
    target: Target | None = field(default=None, repr=False)


AUTO_REMOTE_WORKERS = 8  # a remote target's time is round trips: 8 processes overlap them on 2 cores


def worker_count(workers: str | int | None, *, embedded: bool) -> int:
    """How many processes run the tests: `--workers` N, or for auto 8 for a remote target (its time is
    round trips, which processes overlap) and the CPU count for the embedded server (its time is CPU)."""
    if workers is None:
        return 1
    if str(workers).strip().lower() == "auto":
        return min(os.cpu_count() or 1, 4) if embedded else AUTO_REMOTE_WORKERS
    try:
        count = int(workers)
    except ValueError:
        raise UsageError(f"--workers must be a number of at least 1 or auto, not {workers!r}") from None
    if count < 1:
        raise UsageError(f"--workers must be a number of at least 1 or auto, not {workers!r}")
    return count


def run_suite(target: Target, options: RunOptions) -> RunResult:
    """Run the contract suite against `target`: pre-flight, the suite in a child, the clean-up of a killed child.

    Raises `UsageError` (exit 2) for options or a target that cannot be used, `Inconclusive` (exit 3)
    for a target that keeps failing the pre-flight; otherwise the exit code is in the result.
    """
    from crm_contract.hosting.embedded import started as serving

    options.check()
    started = repr(options.started if options.started is not None else time.time())
    lines: list[str] = []
    say: Callable[[str], None] = lines.append if options.capture else print
    warn: Callable[[str], None] = lines.append if options.capture else _to_stderr
    probed = 0
    with serving(target) as target:
        if options.probe or target.embedded:
            probed = target.preflight()
        default = (" (the default for a --base-url target; --profile strict adds the reference choices)"
                   if target.contract_profile == "documented" else "")
        say(f"crm-contract: checking {target.public_url} (contract profile {target.contract_profile}{default})")
        if not options.capture:
            sys.stdout.flush()
        env = {key: value for key, value in options.environ.items()
               if key not in (TOKEN_ENV, READ_TOKEN_ENV, "PYTEST_BASE_URL", CLOCK_START, VERDICT_FILE,
                              PREFLIGHT_REQUESTS)}
        env[CLOCK_START] = started
        env[PREFLIGHT_REQUESTS] = str(probed)  # counted in the run's report.json
        run_id = env.setdefault(RUN_ID_ENV, f"cc{secrets.token_hex(3)}")  # the child's run id: its ledger's name
        with tempfile.TemporaryDirectory(prefix="crm-contract-") as scratch:
            verdict = Path(scratch) / "verdict.json"
            env[VERDICT_FILE] = str(verdict)
            env.update(target.save(Path(scratch) / "target.json"))
            workers = worker_count(options.workers, embedded=target.embedded)
            # One test at a time to each worker after its first two, so that the long ones spread
            # (`crm_contract.plugin.workers.longest_first`).
            spread = ["-p", "xdist", "-n", str(workers), "--maxschedchunk", "1"] if workers > 1 else ["-p", "no:xdist"]
            # --assert=plain: the suite's checks raise ContractViolation and never rely on rewritten asserts,
            # while rewriting every module of every pytest11 distribution (about 360) cost each process
            # 0.5 s, and 2 s where bytecode is not written (PYTHONDONTWRITEBYTECODE, read-only images).
            command = [sys.executable, "-m", "pytest", *suite_invocation(Path(scratch)), "-p", PLUGIN, *spread,
                       "--assert=plain",
                       "-o", f"cache_dir={cache_root() / 'pytest'}", TARGET_OPTION, str(Path(scratch) / "target.json"),
                       *options.arguments()]
            status, interrupted, output = supervise(command, env, capture=options.capture)
            if output:
                lines.append(output.rstrip("\n"))
            swept = sweep_after(target, run_id, workers if workers > 1 else 0)
            if interrupted:
                warn(f"crm-contract: interrupted{swept}; no verdict")
                return RunResult(INCONCLUSIVE, options.report_dir, "\n".join(lines), True, target)
            if swept:
                warn(f"crm-contract: the run left objects behind{swept}")
            code = session_exit_code(verdict, status, warn)
    return RunResult(code, options.report_dir, "\n".join(lines), False, target)


def suite_invocation(scratch: Path) -> list[str]:
    """The suite as pytest's arguments, isolated from the pytest configuration of the working directory.

    The working directory may be the user's own project, with its pytest.ini or pyproject section
    (addopts, filterwarnings = error, testpaths whose conftests pytest would load): none of it applies.
    The suite is named by its path and given an empty ini file of its own, so pytest reads no
    configuration and no conftest but the suite's. A fresh interpreter, too: pytest must import (and
    rewrite) the suite before anything else imports it.
    """
    spec = importlib.util.find_spec(SUITE)
    if spec is None or spec.origin is None:
        raise UsageError(f"the contract suite ({SUITE}) is not installed")
    ini = scratch / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    suite = Path(spec.origin).parent
    return [str(suite), "-c", str(ini), "--rootdir", str(suite.parent)]  # node ids: contract_tests/test_….py


def supervise(command: list[str], env: dict[str, str], *, capture: bool = False) -> tuple[int, bool, str]:
    """Run the suite in a child process; on Ctrl-C, let it tear down (clean up) before returning.

    The child runs in a session of its own, so a Ctrl-C at the terminal reaches only this process,
    which passes exactly one SIGINT on: pytest stops the running test and runs every fixture's
    clean-up. A second Ctrl-C, or `GRACE` seconds without an end, kills the child; the run's ledger
    still names what it made, and `sweep_after` removes it. Returns pytest's status, whether the run
    was interrupted, and the child's output when `capture`.
    """
    pipe = subprocess.PIPE if capture else None
    on_start = _die_with_parent if threading.current_thread() is threading.main_thread() else None
    with _child(command, env, pipe, on_start) as child:
        try:
            output, _ = child.communicate()
            return child.returncode, False, output or ""
        except KeyboardInterrupt:
            print(f"crm-contract: interrupted; cleaning up what the run made (up to {GRACE} s, Ctrl-C again to "
                  "stop at once)", file=sys.stderr)
            child.send_signal(signal.SIGINT)
            try:
                output, _ = child.communicate(timeout=GRACE)
            except (KeyboardInterrupt, subprocess.TimeoutExpired):
                child.kill()
                output, _ = child.communicate()
            return child.returncode, True, output or ""


@contextmanager
def _child(command: list[str], env: dict[str, str], pipe: int | None,
           on_start: Callable[[], None] | None) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=on_start, stdout=pipe,
                             stderr=subprocess.STDOUT if pipe else None, text=True)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _die_with_parent() -> None:
    """In the child, before it starts: on Linux, be killed when this process dies (e.g. by SIGKILL).

    A suite left running alone would go on writing to the target; killed, it leaves its ledger, and
    `crm-contract sweep` removes what it made.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def sweep_after(target: Target, run_id: str, workers: int = 0) -> str:
    """Remove what the run's ledgers still name (a killed or crashed child); "" when nothing was left.

    With `workers`, each pytest-xdist worker kept a ledger under a run id of its own (`worker_run_id`).
    """
    import httpx

    from crm_contract.kit.client import ContractClient, TargetInconclusive
    from crm_contract.kit.sweep import ledger_directory, sweep
    from crm_contract.strategies.keys import worker_run_id

    directory = ledger_directory()
    runs = [run_id, *(worker_run_id(run_id, worker) for worker in range(workers))]
    left = [run for run in runs if (directory / f"{run}.jsonl").is_file()]
    if not left:
        return ""  # the run removed everything, and its ledgers with them
    removed, kept = [], []
    for run in left:
        try:
            with target.client() as http:
                swept = sweep(ContractClient(http), target.public_url, run_id=run, directory=directory, naming=False)
        except (httpx.HTTPError, TargetInconclusive) as error:
            return f"; could not remove them ({type(error).__name__}): run crm-contract sweep --run-id {run}"
        removed += swept.removed
        kept += [f"{item} (run {run})" for item in swept.left]
    done = f"; removed {len(removed)} left-over item(s)" if removed else ""
    if kept:
        done += f"; could not remove {', '.join(kept)}: run crm-contract sweep later"
    return done


def session_exit_code(verdict: Path, pytest_status: int, warn: Callable[[str], None] | None = None) -> int:
    """The run's exit code, as the suite's session wrote it; 2 when the session never got to write it."""
    try:
        return int(json.loads(verdict.read_text())["exit"])
    except (OSError, ValueError, KeyError, TypeError):
        (warn or _to_stderr)(f"crm-contract: error: the contract suite could not start (pytest exited with "
                             f"{pytest_status} before the suite's session ended; its output is above)")
        return USAGE


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)

