"""The runner of the Zeeg CRM contract suite: CLI, pytest plugin, embedded reference server.

The repository's top-level folders are installed inside this package (see ``setup.py``):
``contract_tests/`` as ``crm_contract.contract_tests``, ``strategies/`` as ``crm_contract.strategies``,
``reference_server/`` as ``crm_contract.reference_server`` and ``contract/`` as ``crm_contract.contract``,
so that nothing with a generic name lands at the top of site-packages.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PLUGIN", "SUITE", "__version__"]

#: The contract suite, as pytest collects it: ``pytest --pyargs crm_contract.contract_tests``.
SUITE = "crm_contract.contract_tests"
#: The pytest plugin, registered under its module name by the ``pytest11`` entry point too.
PLUGIN = "crm_contract.plugin"


def __getattr__(name: str) -> Any:
    # Looked up lazily: pytest loads this package for every run (the plugin's entry point), and most
    # runs never ask for the version.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("zeeg-crm-contract")
        except PackageNotFoundError:  # a checkout that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'crm_contract' has no attribute {name!r}")
