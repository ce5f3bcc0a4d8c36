"""The project's own files: dependencies in step, notebooks clean, the CLI assembled."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name where they differ.
_CONDA_NAMES = {"psycopg[binary]": "psycopg", "sqlalchemy": "sqlalchemy", "pyyaml": "pyyaml"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement)
    name, spec = m.group(1).lower(), m.group(2).replace(" ", "")
    return _CONDA_NAMES.get(name, name), spec


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = dict(
        _name_and_spec(r)
        for r in pyproject["project"]["dependencies"]
        + pyproject["project"]["optional-dependencies"]["test"]
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(
        _name_and_spec(d)
        for d in env["dependencies"]
        if isinstance(d, str) and not d.startswith(("python", "pip"))
    )
    missing = {k: v for k, v in wanted.items() if k not in conda}
    extra = sorted(set(conda) - set(wanted))
    differ = {k: (v, conda[k]) for k, v in wanted.items() if k in conda and conda[k] != v}
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    assert not differ, f"version bounds differ (pyproject, environment.yml): {differ}"


def test_notebooks_are_committed_without_outputs():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{nb_path.name} has outputs"
                assert cell.get("execution_count") is None, f"{nb_path.name} has counts"


def _all_commands(group, prefix=()):
    import click

    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _all_commands(command, (*prefix, name))


def test_every_command_has_help():
    import typer
    from typer.testing import CliRunner

    from sjrlib.cli import app

    root = typer.main.get_command(app)
    commands = list(_all_commands(root))
    assert ("check-text",) in commands
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output
        help_text = root.commands[command[0]].help if len(command) == 1 else "sub"
        assert help_text, f"sjr {' '.join(command)} has no help text"


def test_console_script_is_installed():
    out = subprocess.run(
        [str(Path(sys.executable).parent / "sjr"), "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "check-text" in out.stdout
