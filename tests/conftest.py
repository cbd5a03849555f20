"""Shared pytest fixtures for the library tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test (never NumPy's global state)."""
    return np.random.default_rng(0)
