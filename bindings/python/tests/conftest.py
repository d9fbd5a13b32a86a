"""Shared fixtures for the agentbox Python tests (run by `cargo test`, see tests/python.rs)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def local_root(tmp_path: Path) -> Path:
    """A fresh directory for ``LocalProvider(root=...)``."""
    root = tmp_path / "workspaces"
    root.mkdir()
    return root
