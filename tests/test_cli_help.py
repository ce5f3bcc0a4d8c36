"""``sjr … --help`` reads as paragraphs: the terminal wraps the text, not the docstring's source.

Typer prints a help's line breaks as they are in the source, so at 80 columns "the command
exits 1 with the" ended one line and "store unchanged." began the next, half empty. Each help is
rendered here through the ``sjr`` console script's own entry point at a width no paragraph
reaches, so every paragraph must come out on one line.
"""

from __future__ import annotations

import re

import pytest
import typer

from sjrlib import cli


def _commands():
    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(cli.app), []))


def _help(path: list[str], capsys, monkeypatch, columns: int) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("TERMINAL_WIDTH", str(columns))
    with pytest.raises(SystemExit) as ended:
        cli.main([*path, "--help"])
    assert ended.value.code == 0
    return capsys.readouterr().out


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


COMMANDS = _commands()


def test_every_command_is_covered():
    assert len(COMMANDS) > 50  # the whole tree, groups and their commands


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "sjr")
def test_each_paragraph_is_one_line_at_any_width(path, capsys, monkeypatch):
    command = dict((tuple(p), c) for p, c in COMMANDS)[tuple(path)]
    lines = [_words(line.strip(" │")) for line in
             _help(path, capsys, monkeypatch, 4000).splitlines()]
    for paragraph in (command.help or "").partition("\f")[0].split("\n\n"):
        expected = _words(paragraph)
        if expected:
            assert expected in lines, (
                f"sjr {' '.join(path)} --help breaks the paragraph {expected[:60]!r}… "
                "mid-sentence")


def test_at_eighty_columns_the_terminal_wraps_whole_lines(capsys, monkeypatch):
    out = _help(["import"], capsys, monkeypatch, 80)
    assert "exits 1 with the store unchanged" in _words(out)
    # no line of the description ends half empty before the paragraph does
    body = out.split("╭")[0].splitlines()
    text = [line.rstrip() for line in body if line.strip()]
    assert all(len(line) > 60 for line in text[2:-1]), text


def test_reflowed_keeps_paragraphs_and_click_markers():
    assert cli.reflowed("One\ntwo.\n\nThree\nfour.") == "One two.\n\nThree four."
    assert cli.reflowed("Head.\n\n\b\nkept\nlines") == "Head.\n\n\b\nkept\nlines"
    assert cli.reflowed("Shown\ntext.\f\nhidden\nnotes") == "Shown text.\f\nhidden\nnotes"
    assert cli.reflowed(None) is None
