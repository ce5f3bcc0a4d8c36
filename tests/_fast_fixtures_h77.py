"""Fixtures that make slow tests cheaper without changing what they check (not a test file).

``one_click_command``: typer's ``CliRunner.invoke(app, ...)`` builds the click command from the
``sjr`` app again on every call (``typer.main.get_command``: 22 ms each, measured 2026-12-07);
``tests/test_cli_door.py`` invokes ``sjr`` some 260 times, 5.8 s of its 33 s in that build
alone. The ``sjr`` command itself builds it once per process. With this fixture every invoke in
the module runs the same real command, built once by typer from the same app: each invoke is
still a fresh click context, parses its arguments and runs the command to its exit code, and
the options read their environment variables at invocation as before. Take it for a module::

    from _fast_fixtures_h77 import one_click_command  # noqa: F401  (fixture)

    pytestmark = pytest.mark.usefixtures("one_click_command")
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_click_command():
    """``typer.testing.CliRunner`` builds each app's click command once for the module."""
    import typer.testing

    build = typer.testing._get_command  # what typer's CliRunner.invoke calls on every invoke
    built: dict[int, tuple[object, object]] = {}

    def once(app):
        if id(app) not in built:  # the app kept beside its command: its id is not reused
            built[id(app)] = (app, build(app))
        return built[id(app)][1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", once)
        yield
