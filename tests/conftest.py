"""Fixtures shared by the command-line tests."""

import pytest

import vimp._compare
import vimp.cli


@pytest.fixture
def no_work(monkeypatch):
    """Loading and fitting fail loudly: a check that passes this fixture ran before any work."""
    def refuse(*args, **kwargs):
        raise AssertionError("the check should have refused before this point")

    monkeypatch.setattr(vimp.cli, "_load", refuse)
    monkeypatch.setattr(vimp._compare, "compare", refuse)


@pytest.fixture
def no_fit(monkeypatch):
    """Fitting fails loudly (loading the data is allowed)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the check should have refused before fitting")

    monkeypatch.setattr(vimp._compare, "compare", refuse)
