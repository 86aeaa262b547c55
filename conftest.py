"""This checkout's own test runs: the suite's Hypothesis profiles, for tests/ as for the suite.

The contract suite's pytest plugin (`crm_contract/plugin/__init__.py`) is registered by the package's
``pytest11`` entry point, so it needs no conftest: an installed `crm-contract run` works from any
directory. It stays inert for this project's own tests (`tests/`); this file only gives those tests the
same Hypothesis profiles (`dev` unless another is chosen with ``--hypothesis-profile``).
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # registered before Hypothesis's plugin loads --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    from crm_contract.plugin.session import register_profiles

    register_profiles()
