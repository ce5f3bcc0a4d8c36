"""How ``sjr serve`` starts Voila: address, database URL for kernels, culling, pre-heating."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sjrlib.cli import app
from sjrlib.dashboards import serve


def test_voila_is_bound_to_localhost_with_culling_and_xsrf_on(tmp_path):
    argv = serve.voila_argv(port=8123, notebooks_dir=tmp_path)
    assert argv[0] == str(tmp_path)
    assert "--Voila.ip=127.0.0.1" in argv and "--Voila.port=8123" in argv
    assert f"--MappingKernelManager.cull_idle_timeout={serve.CULL_IDLE_SECONDS}" in argv
    assert not any("xsrf" in a.lower() or "token" in a.lower() for a in argv)
    assert "--VoilaConfiguration.preheat_kernel=True" in argv
    assert not any("preheat" in a for a in serve.voila_argv(port=1, notebooks_dir=tmp_path,
                                                             preheat=False))


def test_each_run_gets_its_own_token_unless_one_is_given():
    first, second = serve.serve_token({}), serve.serve_token({})
    assert first != second and len(first) >= serve.MIN_TOKEN_LENGTH
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first)
    given = "t" * serve.MIN_TOKEN_LENGTH
    assert serve.serve_token({serve.TOKEN_ENV: given}) == given
    assert serve.serve_token({serve.TOKEN_ENV: ""}) != ""  # empty: a random one, never none
    for weak in ("short", "x" * 31, "a" * 40 + "&b=1", "a" * 40 + " "):
        with pytest.raises(ValueError, match=serve.TOKEN_ENV):
            serve.serve_token({serve.TOKEN_ENV: weak})
    assert (serve.page_url(8866, "explore.ipynb", given)
            == f"http://127.0.0.1:8866/voila/render/explore.ipynb?token={given}")


def test_sjr_serve_prints_the_addresses_with_the_token_and_refuses_a_weak_one(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv(serve.TOKEN_ENV, "k" * 40)
    result = CliRunner().invoke(app, ["serve", "--notebooks", str(tmp_path), "--port", "1"])
    for name in serve.DASHBOARDS:
        assert f"http://127.0.0.1:1/voila/render/{name}?token={'k' * 40}" in result.output
    monkeypatch.setenv(serve.TOKEN_ENV, "weak")
    result = CliRunner().invoke(app, ["serve", "--notebooks", str(tmp_path), "--port", "1"])
    assert result.exit_code == 2 and "SJR_SERVE_TOKEN must be" in result.output
    assert "token=" not in result.output


def test_serve_help_says_what_preheating_does_and_costs():
    """``--preheat`` said "(faster pages; two idle kernels)": not how much faster, nor what
    an idle kernel costs, and there are four dashboards (first-run walk-through). The figures
    are docs/scaling.md's."""
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "4000"})
    words = re.sub(r"\s+", " ", result.output.replace("│", " "))
    assert "first chart shows in about 3.6 s instead of 5-8 s" in words, words
    assert (f"{len(serve.DASHBOARDS)} kernels kept idle while the server runs, one per "
            "dashboard, about 250 MB of memory each") in words, words
    assert "two idle kernels" not in words


def test_voila_gets_the_token_outside_its_command_line_and_kernels_do_not(monkeypatch):
    """``python -m sjrlib.dashboards.voila_xsrf`` takes the token from the environment (what
    ``sjr serve`` sets) into Voila's configuration, and takes it out of the environment that
    kernels inherit."""
    import os
    import sys

    import voila.app

    from sjrlib.dashboards import voila_xsrf

    seen = {}

    def fake_main():
        seen["argv"], seen["env"] = list(sys.argv), dict(os.environ)
        return 0

    monkeypatch.setattr(voila.app, "main", fake_main)
    monkeypatch.setattr(sys, "argv", ["voila_xsrf", "notebooks", "--Voila.port=1"])
    monkeypatch.setenv(serve.TOKEN_ENV, "s" * 40)
    assert voila_xsrf.main() == 0
    assert seen["argv"][-1] == f"--Voila.token={'s' * 40}"
    assert serve.TOKEN_ENV not in seen["env"] and serve.TOKEN_ENV not in os.environ


def test_voila_is_not_started_without_a_token(monkeypatch, capsys):
    """Run by hand without ``SJR_SERVE_TOKEN``, Voila's default (no token) would let every
    local account use the dashboards as whoever started them: refused, nothing started."""
    import sys

    import voila.app

    from sjrlib.dashboards import voila_xsrf

    started = []
    monkeypatch.setattr(voila.app, "main", lambda: started.append(True) or 0)
    monkeypatch.delenv(serve.TOKEN_ENV, raising=False)
    for argv in (["voila_xsrf", "notebooks"], ["voila_xsrf", "notebooks", "--Voila.token="]):
        monkeypatch.setattr(sys, "argv", argv)
        assert voila_xsrf.main() == 2
    assert started == [] and "no token" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["voila_xsrf", "notebooks", "--Voila.token=" + "t" * 40])
    assert voila_xsrf.main() == 0 and started == [True]


def test_the_token_is_kept_from_the_pages_kernel():
    from sjrlib.dashboards.voila_xsrf import without_token

    assert without_token("token=abc") == ""
    assert without_token("a=1&token=abc&b=x%20y") == "a=1&b=x+y"
    assert without_token("a=1") == "a=1"


def test_only_the_dashboards_are_preheated():
    # Voila drops a notebook from pre-heating when a denylist pattern re.match-es its path
    pattern = re.compile(serve.preheat_denylist())
    for name in serve.DASHBOARDS:
        assert not pattern.match(f"/srv/sjr/notebooks/{name}") and not pattern.match(name)
    for name in ("trust_report.ipynb", "national_report.ipynb", "my_review_entry.ipynb"):
        assert pattern.match(f"/srv/sjr/notebooks/{name}")


def test_kernels_get_an_absolute_database_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = serve.voila_environment("sqlite:///data/sjr.db", base={"SJR_USER": "lead_a"})
    assert env["SJR_DATABASE_URL"] == f"sqlite:///{tmp_path / 'data' / 'sjr.db'}"
    assert env["SJR_USER"] == "lead_a"  # identity passes through untouched
    url = "postgresql+psycopg://sjr@db.internal/sjr"
    assert serve.voila_environment(url, base={})["SJR_DATABASE_URL"] == url


def test_the_shipped_notebooks_are_served():
    folder = serve.default_notebooks_dir()
    assert all((folder / name).is_file() for name in serve.DASHBOARDS)


def test_sjr_serve_says_which_notebooks_are_missing(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--notebooks", str(tmp_path), "--port", "1"])
    assert result.exit_code == 2
    assert ("review_entry.ipynb, explore.ipynb, coding.ipynb, calibration.ipynb not found"
            in result.output)


def test_wait_for_page_is_a_no_op_outside_preheating(monkeypatch):
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    assert serve.wait_for_page() is False
    monkeypatch.setenv("VOILA_PREHEAT", "False")  # what Voila sets in a kernel started on request
    assert serve.wait_for_page() is False


def test_notebooks_are_thin():
    import nbformat

    for name in serve.DASHBOARDS:
        nb = nbformat.read(Path(serve.default_notebooks_dir()) / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert len(code) == 1 and not code[0].outputs
        lines = [ln for ln in code[0].source.splitlines() if ln and not ln.startswith("#")]
        assert len(lines) == 2 and lines[0].startswith("from sjrlib.dashboards.")


# --- stopping ----------------------------------------------------------------------------------


def _marked(marker: str) -> list:
    """Every live process whose environment carries ``marker`` (sjr serve, Voila, kernels)."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("SJR_SERVE_TEST") == marker and \
                    proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _kernels(processes) -> list:
    import psutil

    out = []
    for proc in processes:
        try:
            if "ipykernel" in " ".join(proc.cmdline()):
                out.append(proc)
        except psutil.NoSuchProcess:
            continue
    return out


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_sjr_serve_stops_voila_and_every_kernel(how, tmp_path, small_data):
    """``sjr serve`` on a free port with pre-heated kernels (one per dashboard), then a signal to
    the sjr process alone: no Voila and no kernel it started may remain. SIGTERM and SIGINT are
    handled by sjr, which returns only once everything has stopped; SIGKILL cannot be handled,
    so Voila (told by the kernel's parent-death signal) stops its kernels itself."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import uuid

    import psutil
    from dashboard_store import populate

    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    populate(url, small_data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTERHUB_USER", "SJR_DATABASE_URL")}
    env.update(SJR_USER="someone", SJR_SERVE_TEST=marker, MPLBACKEND="Agg")
    log = (tmp_path / "serve.log").open("w")
    sjr = subprocess.Popen([str(Path(sys.executable).with_name("sjr")), "serve", "--port",
                            str(port), "--db", url], env=env, cwd=tmp_path, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180  # waiting for start-up, not a timed assertion
        while len(_kernels(_marked(marker))) < 2:
            assert sjr.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the pre-heated kernels never started"
            time.sleep(0.5)
        running = _marked(marker)
        voila = [p for p in running if "voila" in " ".join(p.cmdline())]
        assert voila and len(_kernels(running)) >= 2
        assert all(p.pid in {c.pid for c in psutil.Process(sjr.pid).children(recursive=True)}
                   for p in running if p.pid != sjr.pid), "all descend from sjr serve"

        os.kill(sjr.pid, getattr(signal, how))
        code = sjr.wait(timeout=120)
        if how == "SIGKILL":
            deadline = time.monotonic() + 120  # Voila shuts its kernels down, then exits
            while _marked(marker) and time.monotonic() < deadline:
                time.sleep(0.5)
        else:
            assert code == 0, (tmp_path / "serve.log").read_text()
        left = [(p.pid, " ".join(p.cmdline())[:120]) for p in _marked(marker)]
        assert left == [], left
    finally:
        for proc in _marked(marker):  # never leave a server behind, whatever failed
            proc.kill()
        log.close()


@pytest.mark.slow
def test_ctrl_c_stops_sjr_serve_quietly(tmp_path):
    """Ctrl-C on ``make serve`` printed tracebacks: pre-heated kernels waiting for their page
    are shut down mid-request (ipykernel's ``ZMQError: Socket operation on non-socket``), and
    Voila's pool refill meets a kernel already gone (first-run walk-through). ``sjr serve`` on a
    demo store, as ``make serve`` runs it, its kernels ready, then SIGINT to its process group
    as a terminal sends it: it ends within the time allowed, with one line saying so and no
    traceback."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request
    import uuid

    sjr = str(Path(sys.executable).with_name("sjr"))
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTERHUB_USER", "SJR_USER", "SJR_DATABASE_URL")}
    marker = uuid.uuid4().hex
    env.update(SJR_CONFIG=str(tmp_path / "no-identity-file"), SJR_SERVE_TEST=marker,
               SJR_SERVE_TOKEN="c" * 40, MPLBACKEND="Agg")
    subprocess.run([sjr, "demo-data", "--db", url, "--organisations", "2", "--years", "1",
                    "--seed", "5"], env=env, cwd=tmp_path, check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out, err = (tmp_path / "serve.out").open("w+"), (tmp_path / "serve.err").open("w+")
    server = subprocess.Popen([sjr, "serve", "--port", str(port), "--db", url], env=env,
                              cwd=tmp_path, stdout=out, stderr=err, start_new_session=True)

    def said() -> str:
        return (tmp_path / "serve.out").read_text() + (tmp_path / "serve.err").read_text()

    try:
        deadline = time.monotonic() + 180  # waiting for start-up, not a timed assertion
        while True:
            assert server.poll() is None, said()
            assert time.monotonic() < deadline, said()
            try:  # without the token: answered (refused), and no kernel is taken
                urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/explore.ipynb",
                                       timeout=5)
            except urllib.error.HTTPError:
                pass
            except OSError:
                time.sleep(0.5)
                continue
            # every dashboard's kernel has run its notebook and waits for its page
            if said().count("is filled with") >= len(serve.DASHBOARDS):
                break
            time.sleep(0.5)
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
        code = server.wait(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        for proc in _marked(marker):  # never leave a server behind, whatever failed
            proc.kill()
        out.close()
        err.close()
    text = said()
    assert code == 0, text
    assert "Traceback" not in text and "ZMQError" not in text, text
    assert text.rstrip().splitlines()[-1].startswith("Dashboards stopped"), text
    assert _marked(marker) == []


def test_the_root_index_names_each_dashboard_from_its_notebook():
    """The page at ``sjr serve``'s root (sjrlib.dashboards.voila_pages): one link per
    dashboard, named by its notebook's first line, fetching nothing."""
    from sjrlib.dashboards.voila_pages import dashboard_index, dashboard_title

    folder = serve.default_notebooks_dir()
    titles = [dashboard_title(folder / name) for name in serve.DASHBOARDS]
    assert titles[:2] == ["Review entry", "Exploration"]
    assert not any(t.endswith(".ipynb") for t in titles), titles
    page = dashboard_index(folder)
    assert re.findall(r'href="([^"]+)"', page) == [f"/voila/render/{n}" for n in serve.DASHBOARDS]
    assert all(t in page for t in titles) and "http" not in page
