"""What a migration (``data_access/migrations/versions``) reuses of an earlier one.

A revision that puts back, or builds on, the SQL an earlier revision wrote (a function's body,
a policy's text) loads that revision's module by its file name rather than copying its text:
revision files are not importable by name (their names begin with digits, and Alembic loads
them from their folder itself).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

VERSIONS = Path(__file__).with_name("migrations") / "versions"


def earlier_revision(name: str) -> ModuleType:
    """The module of revision file ``name`` (e.g. ``"0035_children_scope"``), loaded afresh."""
    path = VERSIONS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sjr_{name}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no revision file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
