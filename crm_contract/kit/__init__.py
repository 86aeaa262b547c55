"""The suite's kit: what the contract tests use to talk to a target and to say what they found.

`target` (where the API is and how to reach it: the one place that makes an HTTP client, and the
pre-flight), `client` (requests, transcripts, and the one retry and rate-limit policy), `pace` and
`traffic` (the run's request budget and throttling), `workspace`, `ledger` and `sweep` (what a run makes
on a target, and its removal), `violations`, `setup_checks`, `shapes` and `clauses` (verdicts and the
rules they name), `redaction` (no credential leaves), `examples` (replaying a recorded example).
Nothing here imports the reference server, pytest's session plugins or click.
"""
