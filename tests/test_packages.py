"""The generic package names are ours and importable after install."""

import importlib

import pytest


@pytest.mark.parametrize(
    "name", ["idflow", "models", "procedures", "workflows", "notifications", "web", "migrations"]
)
def test_each_listed_package_imports_from_this_project(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert "/site-packages/" not in module.__file__ or "idflow" in module.__file__
    assert module.__doc__, f"{name} has no docstring saying what it answers"
