"""Options from the command line, the environment and the config file, in that order, and the connection set-up.

One table drives the precedence test: every option of `crm-contract run` has an environment variable
and a config key, and the command line beats the environment, which beats the file, which beats the
default. The connection options are proven against the reference server behind a gateway that wants a
header, TLS with a throw-away CA (mutual TLS too) and a loopback forward proxy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from cli_support import run, shown
from connection_support import ForwardProxy, private_ca, requiring_header

from crm_contract.commands import cli
from crm_contract.errors import TargetUnusable, UsageError
from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.kit.client import TargetInconclusive
from crm_contract.kit.config import find_config, load_config
from crm_contract.kit.target import Target

# option -> (a value in the config file, one in the environment, one on the command line) and how each parses.
# Flags and the token options are covered below them.
VALUES: dict[str, tuple[Any, Any, Any]] = {
    "base-url": ("https://file.example/v2", "https://env.example/v2", "https://cli.example/v2"),
    "object": ("file-object", "env-object", "cli-object"),
    "matching-attribute": ("file_key", "env_key", "cli_key"),
    "profile": ("strict", "documented", "strict"),
    "hypothesis-profile": ("dev", "ci", "thorough"),
    "seed": (1, 2, 3),
    "rate-limit": ("1/s", "2/s", "3/s"),
    "max-requests": (10, 20, 30),
    "max-slowdown": (1.5, 2.5, 3.5),
    "request-timeout": (4.0, 5.0, 6.0),
    "header": (["X-File: 1"], ["X-Env: 2"], ["X-Cli: 3"]),
    "secret-header": (["X-File"], ["X-Env"], ["X-Cli"]),
    "proxy": ("http://file-proxy:1", "http://env-proxy:2", "http://cli-proxy:3"),
    "tls-verify": ("false", "true", "false"),
    "client-cert": ("/file/cert.pem", "/env/cert.pem", "/cli/cert.pem"),
    "client-key": ("/file/key.pem", "/env/key.pem", "/cli/key.pem"),
    "report-dir": ("/file/report", "/env/report", "/cli/report"),
    "max-examples": (5, 6, 7),
    "workers": ("2", "4", "auto"),
    "example-db": ("/file/examples", "redis://env-redis:6379/0", "github:cli-owner/cli-repo"),
    "max-time": ("10m", "20m", "30m"),
    "max-failures": (1, 2, 3),
    "clauses": ("A1", "A2", "A3"),
    "skip-clauses": ("A4", "A5", "A6"),
    "progress": ("no", "yes", "auto"),
    "quiet": (True, True, True),
    "output": ("json", "text", "json"),
    "ndjson": ("/file/events.ndjson", "/env/events.ndjson", "/cli/events.ndjson"),
    "har": ("/file/run.har", "/env/run.har", "/cli/run.har"),
    "exitfirst": (True, True, True),
    "force-color": (False, True, False),
}
COMMAND = cli.commands["run"]


def options_of(command: click.Command) -> list[click.Option]:
    return [param for param in command.params if isinstance(param, click.Option)]


def test_every_option_of_run_has_a_variable_and_is_in_the_table() -> None:
    for option in options_of(COMMAND):
        if option.name in ("token", "read_token"):
            assert option.envvar in ("ZEEG_API_TOKEN", "ZEEG_API_READ_TOKEN")  # the names users already set
            continue
        assert option.envvar and option.show_envvar, option.name
        long_name = next(opt for opt in option.opts if opt.startswith("--")).removeprefix("--")
        assert long_name in VALUES or long_name in ("config", "target"), f"{long_name} is missing from VALUES"


def env_of(option: str) -> str:
    return next(param for param in options_of(COMMAND) if f"--{option}" in param.opts).envvar


def parsed(args: list[str], monkeypatch: pytest.MonkeyPatch, folder: Path) -> dict[str, Any]:
    monkeypatch.chdir(folder)
    with cli.make_context("crm-contract", ["run", *args]) as group:  # the group reads the config file
        ctx = COMMAND.make_context("run", args, parent=group)
    return dict(ctx.params)


def as_cli(option: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return [f"--{option}"] if value else [f"--no-{option.removeprefix('force-')}"]
    values = value if isinstance(value, list) else [value]
    return [item for one in values for item in (f"--{option}", str(one))]


def as_env(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "\n".join(value) if isinstance(value, list) else str(value)


def as_toml(option: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"{option} = {str(value).lower()}\n"
    if isinstance(value, list):
        return f"{option} = [{', '.join(repr(item) for item in value)}]\n".replace("'", '"')
    return f"{option} = {value!r}\n".replace("'", '"')


def param_name(option: str) -> str:
    return next(param.name for param in options_of(COMMAND) if f"--{option}" in param.opts)


@pytest.mark.parametrize("option", sorted(VALUES))
def test_the_command_line_beats_the_environment_beats_the_file_beats_the_default(
        option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    in_file, in_env, on_cli = VALUES[option]
    name = param_name(option)
    variable = env_of(option)
    variable = variable[0] if isinstance(variable, list) else variable
    for unset in ("CRM_CONTRACT_CONFIG", "CRM_CONTRACT_TARGET", "PYTEST_BASE_URL", variable):
        monkeypatch.delenv(unset, raising=False)
    default = parsed([], monkeypatch, tmp_path)[name]
    # A file gives headers as a table (headers = { "X-File" = "1" }), every other option as its value.
    in_file_toml = 'headers = { "X-File" = "1" }\n' if option == "header" else as_toml(option, in_file)
    (tmp_path / "crm-contract.toml").write_text(in_file_toml)
    from_file = parsed([], monkeypatch, tmp_path)[name]
    monkeypatch.setenv(variable, as_env(in_env))
    from_env = parsed([], monkeypatch, tmp_path)[name]
    from_cli = parsed(as_cli(option, on_cli), monkeypatch, tmp_path)[name]

    def norm(value: Any) -> Any:
        return tuple(value) if isinstance(value, list | tuple) else value

    expected_file = ["X-File: 1"] if option == "header" else in_file
    if option in ("client-cert", "client-key", "report-dir", "ndjson", "har"):
        assert str(from_file).endswith(str(in_file).lstrip("/")), from_file
    else:
        assert norm(from_file) == norm(expected_file) != norm(default), (from_file, default)
    assert norm(from_env) == norm(in_env), from_env
    assert norm(from_cli) == norm(on_cli), from_cli


def test_a_named_target_overrides_the_files_keys_and_its_token_comes_from_its_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.crm-contract]\nprofile = "strict"\nreport-dir = "out"\n'
        '[tool.crm-contract.targets.staging]\nbase-url = "https://staging.example/v2"\nprofile = "documented"\n'
        'token-env = "STAGING_TOKEN"\nheaders = { "X-Tenant" = "acme" }\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.setenv("STAGING_TOKEN", "from-the-variable")
    monkeypatch.delenv("ZEEG_API_TOKEN", raising=False)
    params = parsed(["--target", "staging"], monkeypatch, tmp_path / "sub")  # found upwards
    assert params["base_url"] == "https://staging.example/v2" and params["profile"] == "documented"
    assert params["token"] == "from-the-variable" and params["headers"] == ("X-Tenant: acme",)
    assert params["report_dir"] == str(tmp_path / "out")  # relative to the file
    assert parsed([], monkeypatch, tmp_path)["profile"] == "strict"
    monkeypatch.setenv("ZEEG_API_TOKEN", "from-zeeg")
    assert parsed(["--target", "staging"], monkeypatch, tmp_path)["token"] == "from-zeeg"  # environment first


@pytest.mark.parametrize(("text", "message"), [
    ('token = "abc"\n', "token does not belong in a file; name the environment variable that holds it with token-env"),
    ('colour = "red"\n', "unknown key 'colour'"),
    ("not toml = = 1\n", "is not valid TOML"),
    ('[targets.staging]\nread-token = "x"\n', "[targets.staging] read-token does not belong in a file"),
])
def test_a_bad_config_file_is_one_line_and_exit_2(text: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "crm-contract.toml").write_text(text)
    result = run("run", cwd=tmp_path)
    assert result.returncode == 2, shown(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crm-contract: error: ") and message in lines[0], shown(result)


def test_an_unknown_named_target_names_the_ones_there_are(tmp_path: Path) -> None:
    (tmp_path / "crm-contract.toml").write_text('[targets.staging]\nbase-url = "https://s.example/v2"\n')
    result = run("run", "--target", "prod", cwd=tmp_path)
    assert result.returncode == 2 and "no target 'prod'" in result.stderr and "staging" in result.stderr, \
        shown(result)


def test_no_config_file_is_found_outside_a_project(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None and load_config(start=tmp_path).settings == {}


# The connection, against the reference server -------------------------------------------------------------


def test_mutual_tls_needs_the_client_certificate(tmp_path: Path) -> None:
    ca = private_ca(tmp_path, client_certificates=True)
    with EmbeddedServer(tls=ca.server) as server:
        assert server.base_url.startswith("https://")
        Target.from_options(server.base_url, server.token, verify=ca.ca, cert=(ca.client_cert, ca.client_key)
                            ).preflight()
        # Under TLS 1.3 the server refuses after the handshake: a lost connection, sent again, then no verdict.
        with pytest.raises((TargetUnusable, TargetInconclusive)):
            Target.from_options(server.base_url, server.token, verify=ca.ca).preflight()


def test_a_private_ca_is_refused_unless_trusted(tmp_path: Path) -> None:
    ca = private_ca(tmp_path)
    with EmbeddedServer(tls=ca.server) as server:
        with pytest.raises(TargetUnusable, match="cannot reach"):
            Target.from_options(server.base_url, server.token).preflight()
        Target.from_options(server.base_url, server.token, verify=False).preflight()
        Target.from_options(server.base_url, server.token, verify=ca.ca).preflight()
    with pytest.raises(UsageError, match="no such CA bundle"):
        Target.from_options(server.base_url, server.token, verify=str(tmp_path / "missing.pem"))


def test_a_plain_http_target_is_reached_through_the_proxy() -> None:
    with EmbeddedServer() as server, ForwardProxy() as proxy:
        Target.from_options(server.base_url, server.token, proxy=proxy.url).preflight()
        assert proxy.requests.get("GET", 0) >= 1, proxy.requests


def test_the_standard_proxy_variables_apply_when_no_proxy_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedServer() as server, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        Target.from_options(server.base_url, server.token).preflight()
        assert proxy.requests.get("GET", 0) >= 1, proxy.requests


def test_a_header_the_gateway_wants_is_sent_with_every_request() -> None:
    with EmbeddedServer(wrap=requiring_header("X-Tenant", "acme")) as server:
        with pytest.raises(TargetUnusable, match="401"):
            Target.from_options(server.base_url, server.token).preflight()
        Target.from_options(server.base_url, server.token, headers={"X-Tenant": "acme"}).preflight()


@pytest.mark.slow
def test_a_run_configured_only_by_a_file_passes_behind_a_gateway_a_private_ca_and_a_proxy(tmp_path: Path) -> None:
    """The issue's set-up: a named target with a header, a private CA and a proxy, nothing on the command line."""
    ca = private_ca(tmp_path)
    with EmbeddedServer(tls=ca.server, wrap=requiring_header("X-Tenant", "acme")) as server, \
            ForwardProxy() as proxy:
        (tmp_path / "crm-contract.toml").write_text(
            'hypothesis-profile = "dev"\nreport-dir = "report"\n'
            f'[targets.staging]\nbase-url = "{server.base_url}"\ntoken-env = "STAGING_CRM_TOKEN"\n'
            f'tls-verify = "ca.pem"\nproxy = "{proxy.url}"\nheaders = {{ "X-Tenant" = "acme" }}\n'
            'profile = "strict"\n')
        result = run("run", "--target", "staging", "--", "-k", "test_a1_ or test_a2_", cwd=tmp_path,
                     env={"STAGING_CRM_TOKEN": server.token}, timeout=600)
        assert result.returncode == 0, shown(result)
        assert proxy.requests.get("CONNECT", 0) >= 1, proxy.requests
        assert (tmp_path / "report" / "report.json").is_file()
        # The negative control: the same file without the header is refused at the gateway.
        (tmp_path / "crm-contract.toml").write_text((tmp_path / "crm-contract.toml").read_text().replace(
            'headers = { "X-Tenant" = "acme" }\n', ""))
        refused = run("run", "--target", "staging", cwd=tmp_path, env={"STAGING_CRM_TOKEN": server.token})
        assert refused.returncode == 2 and "401" in refused.stderr, shown(refused)


@pytest.mark.slow
def test_json_output_ndjson_events_and_har_come_from_one_run(tmp_path: Path) -> None:
    import json

    result = run("run", "--clauses", "A1", "--max-examples", "2", "--output", "json", "--ndjson",
                 str(tmp_path / "events.ndjson"), "--har", str(tmp_path / "run.har"), "--token", "hidden-token-1",
                 cwd=tmp_path)
    assert result.returncode == 0, shown(result)
    summary = json.loads(result.stdout)
    clauses = {clause["id"]: clause for clause in summary["clauses"]}
    assert summary["exit_code"] == 0 and clauses["A1"]["verdict"] == "pass"
    assert clauses["A2"]["verdict"] == "not-run" and "not selected" in clauses["A2"]["reason"]
    events = [json.loads(line) for line in (tmp_path / "events.ndjson").read_text().splitlines()]
    assert events[0]["event"] == "run" and events[-1] == {"event": "verdict", "verdict": "pass", "pytest_status": 0}
    assert {event["event"] for event in events} == {"run", "test", "clause", "verdict"}
    har = json.loads((tmp_path / "run.har").read_text())
    assert har["log"]["version"] == "1.2" and len(har["log"]["entries"]) > 10
    for written in (tmp_path / "events.ndjson", tmp_path / "run.har"):
        assert "hidden-token-1" not in written.read_text()


def test_a_named_target_serves_compare_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One value in the file for a repeatable option (compare's --base-url and --token) is a list of one."""
    (tmp_path / "crm-contract.toml").write_text('[targets.mock]\nbase-url = "http://127.0.0.1:9/v2"\n'
                                                'token-env = "MOCK_TOKEN"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOCK_TOKEN", "mock-token")
    for name in ("ZEEG_API_TOKEN", "CRM_CONTRACT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with cli.make_context("crm-contract", ["compare", "--target", "mock"]) as group:
        ctx = cli.commands["compare"].make_context("compare", ["--target", "mock"], parent=group)
    assert ctx.params["base_urls"] == ("http://127.0.0.1:9/v2",) and ctx.params["tokens"] == ("mock-token",)


def test_a_command_that_takes_no_config_ignores_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "crm-contract.toml").write_text("not toml = = 1\n")
    result = run("clauses", cwd=tmp_path)
    assert result.returncode == 0 and "A1" in result.stdout, shown(result)
