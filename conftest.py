"""Loads the contract suite's pytest plugin for every test run from this checkout.

The plugin (Hypothesis profiles, the target options such as --base-url and --token, the `target`
fixture) lives in `crm_contract/pytest_plugin.py` rather than here, because the installed
`crm-contract run` must work outside a checkout, where this file does not exist: it loads the same
plugin with `-p crm_contract.pytest_plugin`.
"""

pytest_plugins = ["crm_contract.pytest_plugin"]
