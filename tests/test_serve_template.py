"""``sjr serve`` runs Voila with a template of its own: Voila's ``lab`` one without the links to
Font Awesome on a public CDN (a third-party request from every dashboard page). The browser test
``tests/browser/test_serve_offline.py`` checks what a real page requests; these check the
pieces without a browser."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import jinja2
import pytest

from sjrlib.dashboards import serve


def test_voila_is_asked_for_the_template_and_finds_it_on_its_path(tmp_path):
    assert f"--VoilaConfiguration.template={serve.TEMPLATE}" in serve.voila_argv(
        port=1, notebooks_dir=tmp_path)
    env = serve.voila_environment("sqlite:///data/sjr.db",
                                  base={"SJR_USER": "lead_a", "JUPYTER_PATH": "/elsewhere"})
    first, *rest = env["JUPYTER_PATH"].split(os.pathsep)
    assert rest == ["/elsewhere"]  # kept, after ours
    folder = Path(first) / "voila" / "templates" / serve.TEMPLATE
    assert (folder / "conf.json").is_file() and (folder / "index.html.j2").is_file()
    assert stat.S_IMODE(Path(first).stat().st_mode) == 0o700  # no other account writes there


def _voila_lab() -> Path:
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path():
        if (Path(root) / "voila" / "templates" / "lab" / "index.html.j2").is_file():
            return Path(root)
    pytest.skip("Voila's lab template is not installed")


@pytest.mark.parametrize("autoescape", [False, True])
def test_the_template_renders_the_lab_css_without_the_cdn_links(autoescape):
    """The template's ``notebook_css`` block, rendered as Voila renders it, is the lab one less
    the CDN links (and they are still what Voila's lab template links: if Voila changes them,
    this fails rather than letting a request through)."""
    root = _voila_lab()
    lab = (root / "voila" / "templates" / "lab" / "index.html.j2").read_text()
    for link in serve._CDN_LINKS:
        assert link in lab
    ours = serve.template_root()
    loader = jinja2.DictLoader({
        "voila/templates/lab/index.html.j2": (
            "{% block notebook_css %}<style>a{}</style>\n  " + "\n  ".join(serve._CDN_LINKS)
            + "\n<link rel='stylesheet' href='local.css'>{% endblock %}"),
        "page": (ours / "voila" / "templates" / serve.TEMPLATE / "index.html.j2").read_text(),
    })
    page = jinja2.Environment(loader=loader, autoescape=autoescape).get_template("page").render()
    assert "cdn.jsdelivr.net" not in page and "https://" not in page
    assert "<style>a{}</style>" in page and "local.css" in page
