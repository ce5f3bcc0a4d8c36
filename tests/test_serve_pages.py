"""The parts of ``sjr serve``'s Voila process that need no server: the token kept out of its
logs, its error pages, and the notebooks it is told to render (security audit of ``sjr serve``,
2026-12-06). tests/browser/test_serve_token.py checks each against a real server."""

from __future__ import annotations

import logging
import sys

from sjrlib.dashboards import serve
from sjrlib.dashboards.log_redaction import REDACTED, redact, redact_tokens_in_logs
from sjrlib.dashboards.voila_pages import error_page

SECRET = "s3cr3t-" + "k" * 40


def test_token_values_are_redacted_from_any_text():
    assert redact(f"404 GET /x?token={SECRET} (127.0.0.1) 1.2ms") == (
        f"404 GET /x?token={REDACTED} (127.0.0.1) 1.2ms")
    assert redact(f"GET /x?a=1&TOKEN={SECRET}&b=2") == f"GET /x?a=1&TOKEN={REDACTED}&b=2"
    assert redact(f"next=%2Fx%3Ftoken%3D{SECRET}") == f"next=%2Fx%3Ftoken%3D{REDACTED}"
    assert redact(f"Authorization: token {SECRET}") == f"Authorization: token {REDACTED}"
    assert redact(f"elsewhere: {SECRET}.", [SECRET]) == f"elsewhere: {REDACTED}."
    assert redact("tokens=3, no value here") == "tokens=3, no value here"


def test_log_records_of_every_logger_carry_no_token(monkeypatch):
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    redact_tokens_in_logs(SECRET)
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(self.format(record))

    handler = Keep()
    for name in ("tornado.access", "tornado.general", "Voila"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "handlers", [handler])
        monkeypatch.setattr(logger, "propagate", False)
        logger.warning("%d %s %.2fms", 404, f"GET /nothing?token={SECRET} (127.0.0.1)", 1.0)
    try:
        raise RuntimeError(f"failed for /voila/render/x.ipynb?token={SECRET}")
    except RuntimeError:
        logging.getLogger("tornado.general").exception("Uncaught %r", {"token": SECRET})
    assert len(seen) == 4 and all(SECRET not in line for line in seen), seen
    assert f"token={REDACTED}" in seen[0] and "RuntimeError" in seen[3]


def test_error_pages_fetch_nothing_and_show_nothing_of_the_request():
    for status in (403, 404, 405, 500, 502):
        page = error_page(status)
        assert f"Error {status}." in page
        lowered = page.lower()
        assert "<script" not in lowered and "<link" not in lowered and "src=" not in lowered
        assert "http" not in lowered
    assert "Not found" in error_page(404) and "Something went wrong" in error_page(502)
    assert 'href="/base/"' in error_page(404, "/base/")


def test_voila_is_told_to_render_the_dashboards_and_serve_no_files(tmp_path):
    argv = serve.voila_argv(port=1, notebooks_dir=tmp_path)
    assert "--VoilaConfiguration.file_denylist=.*" in argv
    assert f"{serve.DASHBOARDS_ARG}{','.join(serve.DASHBOARDS)}" in argv
    # a notebook pre-heated is one offered (benchmarks/dashboards.py adds one)
    argv = serve.voila_argv(port=1, notebooks_dir=tmp_path, preheat=False,
                            preheated=(*serve.DASHBOARDS, "empty.ipynb"))
    assert f"{serve.DASHBOARDS_ARG}{','.join(serve.DASHBOARDS)},empty.ipynb" in argv


def test_voila_does_not_see_the_argument_naming_the_dashboards(monkeypatch):
    import voila.app

    from sjrlib.dashboards import voila_xsrf

    seen = {}

    def fake_main():
        seen["argv"] = list(sys.argv)
        return 0

    monkeypatch.setattr(voila.app, "main", fake_main)
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    monkeypatch.setattr(sys, "argv", ["voila_xsrf", "notebooks",
                                      f"{serve.DASHBOARDS_ARG}explore.ipynb"])
    monkeypatch.setenv(serve.TOKEN_ENV, "t" * 40)
    assert voila_xsrf.main() == 0
    assert not any(a.startswith(serve.DASHBOARDS_ARG) for a in seen["argv"])
