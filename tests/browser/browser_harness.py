"""Helpers for the browser tests (fixtures are in conftest.py)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"


def screenshot(page, name: str, selector: str = ".sjr-app") -> Path:
    """Save a screenshot of the whole app (not only the viewport) to artifacts/screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = page.evaluate(
        "(s) => Math.ceil(document.querySelector(s).getBoundingClientRect().height)", selector)
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 80)})
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def copy_store(template: Path, folder: Path) -> str:
    copy = folder / "sjr.db"
    shutil.copyfile(template, copy)
    return f"sqlite:///{copy}"


def entry_store(tmp_path_factory, data, name: str):
    """``(url, users)``: a live copy of a store holding ``data`` with users of every dashboard
    role at its first organisation, for the entry-form browser tests."""
    from dashboard_store import add_users, populate

    template = tmp_path_factory.mktemp(f"{name}-store") / "template.db"
    populate(f"sqlite:///{template}", data)
    users = add_users(f"sqlite:///{template}",
                      str(data.organisations["organisation_code"].iloc[0]))
    return copy_store(template, tmp_path_factory.mktemp(f"{name}-live")), users


def fill(page, answers: Mapping[str, str | bool]) -> None:
    """Answer the entry form's widgets in order, as a person would: ``{css: answer}``, where
    the answer is ``True`` to tick the widget's box, the label to choose when the widget is a
    list, and otherwise the text to type (the value syncs to the kernel on leaving the box)."""
    for css, answer in answers.items():
        widget = page.locator(css).first
        widget.wait_for(state="attached")
        if answer is True:
            widget.locator("input[type=checkbox]").check()
        elif widget.locator("select").count():
            widget.locator("select").select_option(label=answer)
        else:
            box = widget.locator("textarea, input").first
            box.fill(answer)
            box.press("Tab")


def type_into(page, css: str, value: str, *, field: str = "input") -> None:
    """Type into a text widget and leave it, as a person would (the value syncs on leaving)."""
    box = page.locator(f"{css} {field}")
    box.fill(value)
    box.press("Tab")


def choose(page, css: str, label: str) -> None:
    """Choose an answer of a list widget by its label."""
    page.locator(f"{css} select").select_option(label=label)


def tick(page, css: str) -> None:
    """Tick a widget's box."""
    page.locator(f"{css} input[type=checkbox]").check()


def _command(process: psutil.Process) -> str:
    """A process's command line; "" for one that ended (or is a zombie) meanwhile."""
    try:
        return " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return ""


def serve_kernels(port: int) -> int:
    """Live ipykernel processes under the ``sjr serve --port PORT`` process."""
    for proc in psutil.process_iter(["cmdline"]):
        line = proc.info["cmdline"] or []
        if "serve" in line and str(port) in line:
            try:
                children = proc.children(recursive=True)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            return sum(1 for child in children if "ipykernel" in _command(child))
    raise AssertionError(f"no sjr serve on port {port}")


def settled_kernels(port: int, seconds: float = 60) -> int:
    """The kernel count once it has not changed for 3 s (pre-heating refills its pool)."""
    last, since, end = serve_kernels(port), time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.5)
        now = serve_kernels(port)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 3:
            return now
    return last
