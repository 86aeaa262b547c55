"""Replay files: a failure's shrunk request sequence as JSON, and the same as a shell script of curl calls.

The JSON (`failures/<clause>-<n>.json`, format in docs/report-format.md) is what `crm-contract replay`
reads. The script takes the base URL and tokens from the environment, makes the run-made objects the
sequence names (under a fresh run id, so it can run against any target and again), sends the requests
in order, printing each status next to the one the failing run saw, and deletes the objects again.
Record ids the target hands out are captured from the responses and substituted into later paths.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["REPLAY_FORMAT", "shell_script"]

REPLAY_FORMAT = "crm-contract-replay/1"

_TOKENS = {"write": "$CRM_TOKEN", "read": "$CRM_READ_TOKEN"}


def _substituted(text: str, replacements: Sequence[tuple[str, str]]) -> str:
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def _record_ids(response: Any) -> list[str]:
    """The record ids an answer names (a record, or a list of them), in order."""
    if not isinstance(response, Mapping):
        return []
    records = [response.get("record")] + list(response.get("collection") or [])
    return [record["id"] for record in records if isinstance(record, Mapping) and isinstance(record.get("id"), str)]


def _var(name: str) -> str:
    """A placeholder for a shell variable, safe from the escaping in `_quoted`."""
    return f"\x00{name}\x00"


def _quoted(text: str) -> str:
    """`text` in double quotes for bash: literal, but for the variables put in with `_var`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    parts = escaped.split("\x00")
    return '"' + "".join(f"${{{part}}}" if index % 2 else part for index, part in enumerate(parts)) + '"'


def shell_script(replay: Mapping[str, Any]) -> str:
    """The replay file as a bash script of curl commands (base URL and tokens from the environment)."""
    run_id = str(replay.get("run_id") or "")
    replacements: list[tuple[str, str]] = [(run_id, _var("RUN_ID"))] if run_id else []
    lines = [
        "#!/usr/bin/env bash",
        f"# {replay['clause']}: {replay['summary']}",
        f"# test: {replay['test']}",
        "# Replays the failing run's requests against any target. Needs CRM_BASE_URL (ending in /v2) and",
        "# CRM_TOKEN (crm:write); CRM_READ_TOKEN where a request used the read-only token. Objects and keys",
        "# get a fresh run id, so the script can run again; record ids are taken from the answers.",
        "# `crm-contract replay <the .json next to this file>` replays it with the suite's checks as judge.",
        "set -euo pipefail",
        ': "${CRM_BASE_URL:?set CRM_BASE_URL to the API base URL, ending in /v2}"',
        ': "${CRM_TOKEN:?set CRM_TOKEN to a token with crm:write}"',
        'RUN_ID="${RUN_ID:-$(od -An -N4 -tx1 /dev/urandom | tr -d " \\n")}"',
        "",
        "send() {  # METHOD PATH AUTH [BODY]: print the status, keep the body in $BODY",
        '  local method=$1 path=$2 auth=$3; shift 3',
        '  local args=(-sS -o /tmp/crm-replay-$$.json -w "%{http_code}" -X "$method" -H "Accept: application/json")',
        '  [ -n "$auth" ] && args+=(-H "Authorization: Bearer $auth")',
        '  [ $# -gt 0 ] && args+=(-H "Content-Type: application/json" --data-binary "$1")',
        '  STATUS=$(curl "${args[@]}" "$CRM_BASE_URL$path"); BODY=$(cat /tmp/crm-replay-$$.json)',
        "}",
        "id_of() {  # the first record id in $BODY",
        """  printf '%s' "$BODY" | grep -o '"id" *: *"[^"]*"' | head -1 | sed 's/.*"\\([^"]*\\)"$/\\1/'""",
        "}",
        "",
    ]
    objects = list(replay.get("objects") or [])
    if objects:
        lines.append("# Set-up: the run-made objects the sequence names (deleted again on exit)")
        lines.append("cleanup() {")
        for obj in objects:
            path = _quoted(_substituted(f"/crm/objects/{obj['slug']}", replacements))
            lines.append(f'  send DELETE {path} "$CRM_TOKEN" || true')
        lines += ["}", "trap cleanup EXIT"]
        for obj in objects:
            body = _substituted(json.dumps(obj["body"], ensure_ascii=False), replacements)
            lines.append(f'send POST /crm/objects "$CRM_TOKEN" {_quoted(body)}; echo "object: $STATUS"')
            for attribute in obj.get("attributes") or []:
                path = _substituted(f"/crm/objects/{obj['slug']}/attributes", replacements)
                lines.append(f'send POST {_quoted(path)} "$CRM_TOKEN" '
                             f'{_quoted(json.dumps(attribute, ensure_ascii=False))}; echo "attribute: $STATUS"')
        lines.append("")
    lines.append("# The sequence, oldest first")
    ids: list[tuple[str, str]] = []
    for number, exchange in enumerate(replay.get("exchanges") or [], start=1):
        path = _substituted(exchange["path"], replacements + ids)
        auth = exchange.get("auth", "write")
        token = _TOKENS.get(auth, "")
        command = f"send {exchange['method']} {_quoted(path)} \"{token}\""
        if "body" in exchange:
            body = _substituted(json.dumps(exchange["body"], ensure_ascii=False), replacements + ids)
            command += f" {_quoted(body)}"
        lines.append(f'{command}; echo "{number}. {exchange["method"]} -> $STATUS (the failing run saw '
                     f'{exchange["status"]})"; echo "   ${{BODY:0:400}}"')
        for record_id in _record_ids(exchange.get("response")):
            if all(record_id != old for old, _ in ids):
                variable = f"R{len(ids) + 1}"
                ids.append((record_id, _var(variable)))
                lines.append(f'{variable}=$(id_of)  # {shlex.quote(record_id)} in the failing run')
    expected = replay.get("expected")
    lines += ["", f"# Expected: {json.dumps(expected, ensure_ascii=False) if expected else replay['summary']}",
              f"# Observed in the failing run: {json.dumps(replay.get('observed'), ensure_ascii=False)}",
              ""]
    return "\n".join(lines)
