"""Every name in each functions_app module's ``__all__`` exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["jobs", "records", "settings", "ingest", "function_app", "bundle", "api", "api_clients", "api_settings",
           "auth", "fleet", "handlers", "links", "views", "web"]


@pytest.mark.parametrize("module", MODULES)
def test_all_names_exist(module: str) -> None:
    mod = importlib.import_module(f"functions_app.{module}")
    assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__), mod.__all__
