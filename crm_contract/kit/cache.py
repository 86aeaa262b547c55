"""Where runs keep what outlives them: Hypothesis's example database, pytest's cache, the ledgers."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root"]

CACHE_ENV = "CRM_CONTRACT_CACHE_DIR"


def cache_root() -> Path:
    """Never the working directory: ``$CRM_CONTRACT_CACHE_DIR``, else ``$XDG_CACHE_HOME/crm-contract``, else
    ``~/.cache/crm-contract``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "crm-contract"
