"""Serving the dashboards with Voila on this machine (``sjr serve`` / ``make serve``).

Voila is bound to 127.0.0.1, which every account on the machine can reach, so the server asks
for a token: a new random one per run (:func:`serve_token`), given to Voila through its
environment (never on a command line, which every local account can read in ``ps``), and printed
only to the terminal of the person who started ``sjr serve``, in each page's address
(:func:`page_url`). A request without it is refused: the page, the kernel API and the kernel's
websocket, whose widget messages would otherwise let anyone on the machine read the dashboard and
act in it as that person (``docs/security.md``). In a real deployment Voila runs inside a
JupyterHub single-user server (see ``deploy/README.md``), where the hub authenticates and sets
``JUPYTERHUB_USER``. The kernels inherit this process's environment (the token excepted), which
is how they learn the database (``SJR_DATABASE_URL``) and the user; nothing in a URL can choose
either.

The pages fetch nothing from outside this server: Voila's ``lab`` template links Font Awesome
from a public CDN (``cdn.jsdelivr.net``), a third-party request a hospital network must not make
(and which tells the CDN who opened a dashboard when). Voila runs with :data:`TEMPLATE`, the
``lab`` template without those two links (the dashboards use no Font Awesome icon) and with no
MathJax URL in the page's configuration, so that the page uses the MathJax bundled with Voila's
scripts rather than ``cdnjs.cloudflare.com`` (standalone Voila names none; as the Jupyter Server
extension the hub's servers load, it names the CDN). The template is shipped in this package
under :func:`template_root` (a Jupyter data folder, put first on ``JUPYTER_PATH``); the
JupyterHub servers (``deploy/jupyterhub_config.py``) use the same files.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from sjrlib.caller_paths import absolute_database_url, absolute_path

__all__ = [
    "DASHBOARDS",
    "CULL_IDLE_SECONDS",
    "TEMPLATE",
    "TOKEN_ENV",
    "CULL_INTERVAL_SECONDS",
    "absolute_database_url",
    "default_notebooks_dir",
    "page_url",
    "serve",
    "serve_token",
    "template_root",
    "voila_argv",
    "voila_environment",
    "preheating",
    "wait_for_page",
]

DASHBOARDS: tuple[str, ...] = ("review_entry.ipynb", "explore.ipynb", "coding.ipynb",
                               "calibration.ipynb")
"""Notebooks served, at ``/voila/render/<name>``."""

CULL_IDLE_SECONDS = 900
"""Shut down a kernel idle this long with no page connected. Leaving a page shuts its kernel
down (Voila 0.5.13 could not: its request lacked the XSRF token, voila#1458; fixed by
:mod:`sjrlib.dashboards.voila_xsrf`); culling is the safety net for a browser that dies without
unloading the page. A page still open keeps its kernel (connected kernels are not culled), so a
clinician reading a case record for an hour loses nothing."""
CULL_INTERVAL_SECONDS = 60

TOKEN_ENV = "SJR_SERVE_TOKEN"
"""The token a run of ``sjr serve`` asks for. Set by a script or test that starts the server and
must reach it (at least :data:`MIN_TOKEN_LENGTH` characters of ``A-Z a-z 0-9 - _``); otherwise
each run makes its own. The server passes it to Voila under the same name, and Voila's process
removes it from its environment before any kernel starts (:mod:`sjrlib.dashboards.voila_xsrf`)."""
MIN_TOKEN_LENGTH = 32

DASHBOARDS_ARG = "--SjrDashboards.dashboards="
"""The argument giving :mod:`sjrlib.dashboards.voila_xsrf` the notebooks it renders,
comma-separated: ``sjr serve``'s Voila process takes it out before Voila reads the rest, and
behind JupyterHub the extension reads it as its configuration (``SjrDashboards``)."""


TEMPLATE = "sjr-offline"
"""The Voila template the dashboards are served with, by ``sjr serve`` and under JupyterHub:
``lab`` without its CDN links (``jupyter_data/voila/templates/sjr-offline/index.html.j2``)."""

KERNEL_TRANSPORT = "--KernelManager.transport=ipc"
"""``sjr serve``'s kernels on Unix sockets in a folder only the server's account can enter
(Voila's own, mode 0700), not on TCP: a kernel's IOPub port (a ZeroMQ PUB socket) sends every
output to any subscriber, and the message signature keeps nobody from reading."""

KERNEL_ENCRYPTION = "--KernelManager.transport_encryption=required"
"""The same protection where kernels stay on TCP (JupyterLab: ``make lab`` and the hub's
single-user servers, whose kernels' runtime folder under a person's home can make a Unix
socket's path longer than the 107 bytes allowed): CurveZMQ keys made for each kernel and kept
in its connection file (mode 0600), so a subscriber without them completes no handshake and
reads nothing; a kernel that cannot be given keys does not start."""

NO_OVERRIDES = ("--VoilaConfiguration.allow_template_override=NO",
                "--VoilaConfiguration.allow_theme_override=NO")
"""Voila lets a page's address choose its template and theme (``?template=``, ``?theme=``) by
default: Voila's own ``classic`` and ``lab`` templates fetch jQuery and Font Awesome from CDNs,
so any site could send a signed-in browser to a dashboard that runs a third party's script.
Both ``sjr serve`` and the JupyterHub servers turn it off."""

_CDN_LINKS = (
    '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@fortawesome/'
    'fontawesome-free@^5/css/all.min.css" type="text/css" />',
    '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@fortawesome/'
    'fontawesome-free@^5/css/v4-shims.min.css" type="text/css" />',
)
"""What Voila 0.5's ``lab`` template links from a CDN (its ``notebook_css`` block), and what
:data:`TEMPLATE` removes. tests/test_serve_template.py fails if Voila's links differ or the
template leaves one in; browser tests (tests/browser/test_serve_offline.py, tests/test_hub.py)
fail if a page requests any other host."""


def template_root() -> Path:
    """The Jupyter data folder holding the :data:`TEMPLATE` Voila template (at
    ``voila/templates/sjr-offline/``), for the front of ``JUPYTER_PATH``: shipped with this
    package (``sjrlib/dashboards/jupyter_data``), so that ``sjr serve`` and the JupyterHub
    servers render the same files, and only whoever may change this package's code may change
    them."""
    return Path(__file__).resolve().parent / "jupyter_data"


def serve_token(env: dict[str, str] | None = None) -> str:
    """The token for this run: ``$SJR_SERVE_TOKEN`` when set, else a new random one (43
    characters, 256 bits). A given token that is short or holds other characters is refused
    (``ValueError``): it goes into addresses unescaped, and a short one could be guessed."""
    given = (os.environ if env is None else env).get(TOKEN_ENV, "")
    if not given:
        return secrets.token_urlsafe(32)
    if len(given) < MIN_TOKEN_LENGTH or not re.fullmatch(r"[A-Za-z0-9_-]+", given):
        raise ValueError(f"{TOKEN_ENV} must be at least {MIN_TOKEN_LENGTH} characters of "
                         "A-Z, a-z, 0-9, '-' and '_' (or unset: a random token per run)")
    return given


def page_url(port: int, notebook: str, token: str, host: str = "127.0.0.1") -> str:
    """The address of a dashboard with the run's token: opening it signs the browser in (a
    cookie for this run), so the other dashboards then open without the token."""
    return f"http://{host}:{port}/voila/render/{notebook}?token={token}"


def preheat_denylist(preheated: Sequence[str] = DASHBOARDS) -> str:
    """Voila pre-heats a kernel for every notebook in the folder unless told otherwise: a
    pattern denying all but ``preheated`` (so the report notebooks beside the dashboards are
    not run in advance). Voila matches it against each notebook's path, which is absolute when
    the folder is given as one."""
    names = "|".join(re.escape(n) for n in preheated)
    return rf"^(?!(.*/)?({names})$)"


def default_notebooks_dir() -> Path:
    """The ``notebooks/`` folder of the source tree this package was installed from."""
    return Path(__file__).resolve().parents[2] / "notebooks"


def voila_argv(
    *,
    port: int,
    notebooks_dir: Path | str,
    ip: str = "127.0.0.1",
    open_browser: bool = False,
    preheat: bool = True,
    preheated: Sequence[str] = DASHBOARDS,
    dashboards: Sequence[str] = DASHBOARDS,
) -> list[str]:
    """Command-line arguments for ``python -m sjrlib.dashboards.voila_xsrf`` (Voila's, and the
    notebooks it renders) serving ``notebooks_dir`` on ``ip:port``.

    XSRF protection stays on (Voila's default); kernel culling is configured (see
    :data:`CULL_IDLE_SECONDS`); tracebacks are not sent to the browser. With ``preheat`` one
    kernel per dashboard runs its notebook before anyone asks for it (imports, widgets), and
    the dashboards read what must be current once the page is requested (:func:`wait_for_page`).
    Only ``dashboards`` and the ``preheated`` notebooks are rendered (the report notebooks
    beside them are not found), and ``/voila/files/`` serves nothing: no dashboard loads a
    file from there, and Voila served images under the folder to anyone, token or not
    (security audit of 2026-12-06).
    """
    offered = dict.fromkeys((*dashboards, *preheated))
    argv = [
        str(notebooks_dir),
        f"--Voila.ip={ip}",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
        "--MappingKernelManager.cull_connected=False",
        # kernels talk to Voila over Unix sockets beside their connection files, in Voila's
        # own folder (mode 0700), not over TCP on 127.0.0.1: there, any account on the machine
        # could subscribe to a kernel's IOPub port without its key and read every output
        # (the dashboards' tables and charts; seen 2026-12-10). :data:`KERNEL_TRANSPORT`.
        KERNEL_TRANSPORT,
        "--VoilaConfiguration.show_tracebacks=False",
        # nothing fetched from a CDN (voila_environment puts the template on JUPYTER_PATH)
        f"--VoilaConfiguration.template={TEMPLATE}",
        # and no address can choose another (?template=classic loads jQuery from
        # cdnjs.cloudflare.com into the signed-in page; audit of 2026-12-06), nor a theme
        *NO_OVERRIDES,
        # the login form (an address without the token) takes the token only: no password
        # set from it and saved to the Jupyter configuration for later runs
        "--PasswordIdentityProvider.allow_password_change=False",
        # /voila/files/ (images under the folder, served without asking for the token): no
        # dashboard loads anything from there, so every file is refused
        "--VoilaConfiguration.file_denylist=.*",
        # the notebooks rendered (voila_xsrf takes this out before Voila reads the rest)
        f"{DASHBOARDS_ARG}{','.join(offered)}",
    ]
    if preheat:
        argv += [
            "--VoilaConfiguration.preheat_kernel=True",
            "--VoilaConfiguration.default_pool_size=1",
            f"--VoilaKernelManager.preheat_denylist={preheat_denylist(preheated)}",
        ]
    if not open_browser:
        argv.append("--no-browser")
    return argv


_IDENTITY_VARIABLES = ("JUPYTERHUB_USER", "SJR_USER", "SJR_CONFIG", "SJR_DATABASE_URL")


def preheating() -> bool:
    """Whether this kernel was started by Voila in advance (pre-heated) and no page has been
    asked for yet: code may get ready (imports) but must read nothing that has to be current
    or audited as the person's until :func:`wait_for_page` returns."""
    return os.environ.get("VOILA_PREHEAT", "False") != "False"


def wait_for_page() -> bool:
    """In a pre-heated Voila kernel, wait until a browser asks for the page; return whether
    it waited (``False`` outside pre-heating: nothing to wait for).

    Code after this call runs when the page is requested, so what must be current (the
    second-stage queue, today's date) is read then. Voila copies the request's details into
    the environment; identity and database variables are restored afterwards, so nothing in a
    request can change who the kernel acts for.
    """
    if not preheating():
        return False
    from voila.utils import wait_for_request

    kept = {k: os.environ.get(k) for k in _IDENTITY_VARIABLES}
    wait_for_request()
    for key, value in kept.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return True


def voila_environment(
    db: str | None = None, *, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment for the Voila server and so for its kernels.

    ``SJR_DATABASE_URL`` is set to the absolute database URL; the identity variables
    (``JUPYTERHUB_USER``, ``SJR_USER``) are passed through untouched. When they name nobody and
    the store is marked synthetic, the visitor is the demo's ``demo-lead``
    (:func:`data_access.demo.default_identity`) and the pages say so. ``JUPYTER_PATH`` starts
    with the folder of the :data:`TEMPLATE` template (:func:`template_root`), which
    :func:`voila_argv` asks for.
    """
    from data_access import demo

    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(template_root()), env.get("JUPYTER_PATH", "")) if p)
    env["SJR_DATABASE_URL"] = absolute_database_url(db)
    env.setdefault("MPLBACKEND", "Agg")
    env.pop(demo.DEMO_SIGN_IN_ENV, None)
    default = demo.default_identity(env["SJR_DATABASE_URL"], env)
    if default is not None:  # a synthetic store and no identity: the demo's default user
        env["SJR_USER"] = default
        env[demo.DEMO_SIGN_IN_ENV] = "1"
    return env


def serve(
    *,
    port: int = 8866,
    db: str | None = None,
    notebooks_dir: Path | str | None = None,
    open_browser: bool = False,
    preheat: bool = True,
    token: str | None = None,
) -> int:
    """Run Voila in the foreground until it exits or this process gets SIGTERM, SIGINT or
    SIGHUP; then stop Voila and every kernel it started (:mod:`sjrlib.dashboards.supervise`).
    Every request must carry ``token`` (default: :func:`serve_token`), as ``?token=`` in a
    page's address, the login cookie that sets, or an ``Authorization: token ...`` header.
    Return Voila's exit code (0 when stopped by a signal)."""
    from sjrlib.dashboards.supervise import run_supervised

    # Voila runs in the notebooks folder, so a folder typed relative to this one
    # (``sjr serve --notebooks nbs``) is made absolute here, before Voila sees it
    notebooks = absolute_path(notebooks_dir) if notebooks_dir else default_notebooks_dir()
    missing = [n for n in DASHBOARDS if not (notebooks / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"cannot serve the dashboards: {', '.join(missing)} not found in {notebooks}"
        )
    # Voila, with its page's kernel shutdown working (sjrlib.dashboards.voila_xsrf)
    argv = [sys.executable, "-m", "sjrlib.dashboards.voila_xsrf", *voila_argv(
        port=port, notebooks_dir=notebooks, open_browser=open_browser, preheat=preheat)]
    env = voila_environment(db)
    env[TOKEN_ENV] = serve_token(None if token is None else {TOKEN_ENV: token})
    return run_supervised(argv, env=env, cwd=str(notebooks), quiet_stop=True)
