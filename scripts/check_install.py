"""Install the project the way users do and run it from an empty directory outside the checkout.

    python scripts/check_install.py [--keep]

Builds the sdist and the wheel (``python -m build``), checks that the sdist holds every file git tracks
and that the wheel holds every module of the repository's packages (under ``crm_contract``, nothing
else at the top level), installs the wheel into a fresh virtual environment, and from an empty
directory runs: ``crm-contract --version``, ``crm-contract faults``, ``crm-contract clauses``, a short
``crm-contract run`` with ``--report-dir``, one assert against ``crm-contract serve``, and the
plain-pytest route (``pytest --pyargs crm_contract.contract_tests --report-dir``, no ``-p``). The same
plain-pytest route runs again with pytest-base-url blocked (``-p no:base_url``: the plugin then adds
``--base-url`` itself) and with plugin autoloading off (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` and
``-p crm_contract.plugin``). After each command the directory must hold nothing but what
``--report-dir`` asked for. Exits 0 when everything held, 1 with the failing step otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# installed package -> folder in the repository, as setup.py maps them
ROOTS: dict[str, str] = runpy.run_path(str(ROOT / "setup.py"), run_name="setup")["ROOTS"]
TOKEN = "crm-contract-local-write-token"  # the reference server's default write token
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
SHORT = ["-k", "test_a1_ or test_a2_"]  # a few tests: the point is that the installed kit runs, not the verdict


class Failed(Exception):
    pass


def step(name: str) -> None:
    print(f"== {name}", flush=True)


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, expect: int = 0,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != expect:
        raise Failed(f"{' '.join(command)} exited {done.returncode}, expected {expect}\n"
                     f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def build(out: Path) -> tuple[Path, Path]:
    step("build the sdist and the wheel")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=ROOT)
    (sdist,), (wheel,) = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    return sdist, wheel


def check_sdist(sdist: Path) -> None:
    step(f"the sdist holds every tracked file: {sdist.name}")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    if tracked.returncode != 0:
        print("   not a git checkout: skipping the comparison with git ls-files")
        return
    with tarfile.open(sdist) as archive:
        names = {name.partition("/")[2] for name in archive.getnames()}
    missing = [name for name in tracked.stdout.split() if name not in names and name != ".gitignore"]
    if missing:
        raise Failed(f"the sdist lacks {len(missing)} tracked file(s): {', '.join(missing[:20])}")


def check_wheel(wheel: Path) -> None:
    step(f"the wheel holds every module, all under crm_contract: {wheel.name}")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    if tops != {"crm_contract"}:
        raise Failed(f"the wheel puts these names at the top of site-packages: {sorted(tops)}")
    expected = {f"{installed.replace('.', '/')}/{path.relative_to(ROOT / folder).as_posix()}"
                for installed, folder in ROOTS.items()
                for path in (ROOT / folder).rglob("*") if path.suffix in (".py", ".yaml") and "__pycache__" not in
                path.parts}
    missing = sorted(expected - names)
    if missing:
        raise Failed(f"the wheel lacks: {', '.join(missing[:20])}")
    entry_points = next((n for n in names if n.endswith("entry_points.txt")), None)
    text = zipfile.ZipFile(wheel).read(entry_points).decode() if entry_points else ""
    if "[pytest11]" not in text or "crm_contract.plugin" not in text:
        raise Failed(f"the wheel has no pytest11 entry point for the plugin:\n{text}")


def install(wheel: Path, venv: Path) -> Path:
    step("install the wheel into a fresh virtual environment")
    run([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent)
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)], cwd=venv.parent,
        timeout=1200)
    return venv / "bin"


def assert_empty(where: Path, allowed: set[str], after: str) -> None:
    left = sorted(p.name for p in where.iterdir() if p.name not in allowed)
    if left:
        raise Failed(f"after {after}, the working directory holds {left}; it must hold only {sorted(allowed)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(bin_dir: Path, work: Path, env: dict[str, str]) -> Iterator[str]:
    """`crm-contract serve` on a free loopback port; yields its base URL once it answers."""
    port = free_port()
    server = subprocess.Popen([str(bin_dir / "crm-contract"), "serve", "--port", str(port)], cwd=work, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v2"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(urllib.request.Request(f"{base}/crm/objects", headers=HEADERS), timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def check_serve(base: str) -> None:
    step("crm-contract serve answers an assert")
    calls = [("POST", "/crm/objects", {"slug": "products", "singularName": "Product", "pluralName": "Products"}),
             ("POST", "/crm/objects/products/attributes", {"label": "SKU", "type": "text", "isRequired": True}),
             ("PUT", "/crm/products?matchingAttribute=sku", {"sku": "A-1"}),
             ("PUT", "/crm/products?matchingAttribute=sku", {"sku": "A-1"})]
    statuses = []
    for method, path, body in calls:
        request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method, headers=HEADERS)
        with urllib.request.urlopen(request, timeout=10) as answer:
            statuses.append(answer.status)
    if statuses != [201, 201, 201, 200]:
        raise Failed(f"serve answered {statuses}, expected 201, 201, 201 and 200")


def check_commands(bin_dir: Path, work: Path, cache: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "VIRTUAL_ENV"))}
    env.update({"CRM_CONTRACT_CACHE_DIR": str(cache), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
                "CRM_CONTRACT_PROGRESS": "no"})
    crm = str(bin_dir / "crm-contract")
    step("crm-contract --version, faults, clauses")
    version = run([crm, "--version"], cwd=work, env=env).stdout
    if "crm-contract" not in version:
        raise Failed(f"--version printed {version!r}")
    if "update_answers_201" not in run([crm, "faults"], cwd=work, env=env).stdout:
        raise Failed("faults does not list update_answers_201")
    if not run([crm, "clauses"], cwd=work, env=env).stdout.startswith("A1 "):
        raise Failed("clauses does not start with A1")
    assert_empty(work, set(), "--version, faults and clauses")

    step("crm-contract run --report-dir, against the embedded reference server")
    run([crm, "run", "--report-dir", "run-report", "--", *SHORT], cwd=work, env=env)
    if not (work / "run-report" / "report.json").is_file():
        raise Failed("crm-contract run wrote no run-report/report.json")
    assert_empty(work, {"run-report"}, "crm-contract run")
    with serving(bin_dir, work, env) as base:
        check_serve(base)
        assert_empty(work, {"run-report"}, "crm-contract serve")
        check_plain_pytest(bin_dir, work, env, base)


def check_plain_pytest(bin_dir: Path, work: Path, env: dict[str, str], base: str) -> None:
    """The plain-pytest route against `base` (given with --base-url), in three plugin set-ups."""
    python = str(bin_dir / "python")
    routes = {
        "plain pytest (the plugin from its entry point)": ([], {}),
        "plain pytest with pytest-base-url blocked": (["-p", "no:base_url"], {}),
        "plain pytest with plugin autoloading off": (["-p", "crm_contract.plugin"],
                                                     {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
    }
    for n, (name, (extra, more_env)) in enumerate(routes.items()):
        step(name)
        report = f"plain-report-{n}"
        run([python, "-m", "pytest", "--pyargs", "crm_contract.contract_tests", *extra, "--base-url", base,
             "--report-dir", report, *SHORT], cwd=work, env={**env, **more_env, "ZEEG_API_TOKEN": TOKEN})
        if base not in json.loads((work / report / "report.json").read_text()).get("target", ""):
            raise Failed(f"{name} did not run against --base-url {base}")
        if not (work / report / "report.json").is_file():
            raise Failed(f"{name} wrote no {report}/report.json")
        assert_empty(work, {"run-report", *(f"plain-report-{i}" for i in range(n + 1))}, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory and say where it is")
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="crm-install-"))
    try:
        sdist, wheel = build(scratch / "dist")
        check_sdist(sdist)
        check_wheel(wheel)
        bin_dir = install(wheel, scratch / "venv")
        work = scratch / "empty"
        work.mkdir()
        check_commands(bin_dir, work, scratch / "cache")
    except (Failed, subprocess.TimeoutExpired) as error:
        print(f"check_install: FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print("check_install: the wheel installs and runs from an empty directory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
