"""The reference CRM server: a faithful, persistent implementation of the contract, and a stateful mock."""

from __future__ import annotations

from .access import DEFAULT_WRITE_TOKEN
from .app import create_app
from .faults import FAULTS, Fault
from .store import Store

__all__ = ["DEFAULT_WRITE_TOKEN", "FAULTS", "Fault", "Store", "create_app"]
