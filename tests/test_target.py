"""`Target`: checked where it is built, the one maker of HTTP clients, handed to the suite without its tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_contract.errors import TargetUnusable, UsageError
from crm_contract.hosting.embedded import EmbeddedServer, free_port, started
from crm_contract.kit.target import READ_TOKEN_ENV, TOKEN_ENV, Target


@pytest.mark.parametrize(("url", "token", "read_token", "message"), [
    ("localhost:4010/v2", "t", None, "--base-url must be an http:// or https:// URL, not 'localhost:4010/v2'"),
    ("http://:80/v2", "t", None, "must be an http://"),
    ("http://a.example:port/v2", "t", None, "must be an http://"),
    ("https://a.example/v2", None, None, "a token is needed for https://a.example/v2"),
    ("https://a.example/v2", "  ", None, "a token is needed"),
    ("https://a.example/v2", "same", "same", "--read-token must differ from --token"),
])
def test_a_target_is_checked_where_it_is_built(url: str, token: str | None, read_token: str | None,
                                              message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("?", r"\?").replace("(", r"\(")):
        Target.from_options(url, token, read_token)


def test_object_and_matching_attribute_go_together() -> None:
    with pytest.raises(UsageError, match="go together"):
        Target.from_options("https://a.example/v2", "t", object_slug="deals")


def test_a_users_target_is_judged_by_the_documented_rules_and_ours_by_every_rule() -> None:
    assert Target.from_options("https://a.example/v2/", "t").contract_profile == "documented"
    assert Target.from_options("https://a.example/v2/", "t").base_url == "https://a.example/v2"
    assert Target.embedded_reference().contract_profile == "strict"
    assert Target.embedded_reference().base_url == ""


def test_the_tokens_never_reach_the_target_file(tmp_path: Path) -> None:
    target = Target.from_options("https://user:pw@a.example/v2", "write-secret", "read-secret",
                                 object_slug="deals", matching_attribute="external_id", timeout=3.0,
                                 headers={"X-Tenant": "acme"})
    environ = target.save(tmp_path / "target.json")
    text = (tmp_path / "target.json").read_text()
    assert "write-secret" not in text and "read-secret" not in text
    assert environ == {TOKEN_ENV: "write-secret", READ_TOKEN_ENV: "read-secret"}
    assert Target.load(tmp_path / "target.json", environ) == target
    with pytest.raises(UsageError, match="cannot read the target file"):
        Target.load(tmp_path / "target.json", {})


def test_every_client_carries_the_targets_settings() -> None:
    target = Target.from_options("https://a.example/v2", "t", timeout=2.0, headers={"X-Tenant": "acme"})
    with target.client() as http:
        assert http.headers["Authorization"] == "Bearer t" and http.headers["X-Tenant"] == "acme"
        assert http.timeout.read == 2.0 and http.timeout.connect == 2.0
    with target.client(anonymous=True) as http:
        assert "Authorization" not in http.headers


def test_the_preflight_tells_an_unreachable_target_from_a_wrong_token() -> None:
    with pytest.raises(TargetUnusable, match="cannot reach"):
        Target.from_options(f"http://127.0.0.1:{free_port()}/v2", "t").preflight()
    with EmbeddedServer() as server:
        with pytest.raises(TargetUnusable, match="rejected the token of --token"):
            Target.from_options(server.base_url, "wrong-token").preflight()
        Target.from_options(server.base_url, server.token).preflight()


def test_an_embedded_target_gets_its_server_and_its_url() -> None:
    with started(Target.embedded_reference()) as target:
        assert target.base_url.startswith("http://127.0.0.1:") and target.embedded
        target.preflight()
