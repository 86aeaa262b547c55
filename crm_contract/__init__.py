"""The runner of the Zeeg CRM contract suite: CLI, pytest plugin, embedded reference server."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("zeeg-crm-contract")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
