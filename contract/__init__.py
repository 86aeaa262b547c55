"""The machine-readable contract of the Zeeg CRM API v2: `openapi.yaml`, shipped as package data."""

from __future__ import annotations

from pathlib import Path

#: Path to the OpenAPI 3.1 document, next to this module so it is found when the package is installed.
OPENAPI_PATH: Path = Path(__file__).resolve().parent / "openapi.yaml"

__all__ = ["OPENAPI_PATH"]
