"""``sjr serve``: the Voila dashboards on 127.0.0.1 (review entry, exploration, coding,
calibration)."""

from __future__ import annotations

from pathlib import Path

import typer

from sjrlib.dashboards.serve import DASHBOARDS

_PREHEAT_HELP = (
    "Start one kernel per dashboard in advance and run its notebook, so that a page's first "
    "chart shows in about 3.6 s instead of 5-8 s (docs/scaling.md). The cost: "
    f"{len(DASHBOARDS)} kernels kept idle while the server runs, one per dashboard, about "
    f"250 MB of memory each ({len(DASHBOARDS) * 250:,} MB in all). --no-preheat starts a "
    "page's kernel when the page is opened."
)


def serve(
    port: int = typer.Option(8866, "--port", help="Port on 127.0.0.1 to listen on."),
    db: str = typer.Option(
        None, "--db", help="Database URL (default: $SJR_DATABASE_URL, else sqlite:///data/sjr.db)."
    ),
    notebooks: Path = typer.Option(
        None, "--notebooks", help=f"Folder holding the dashboards' notebooks "
        f"({', '.join(DASHBOARDS)}; default: the notebooks/ folder of this source tree)."
    ),
    preheat: bool = typer.Option(True, "--preheat/--no-preheat", help=_PREHEAT_HELP),
) -> None:
    """Serve the dashboards (review entry, exploration, coding, calibration) with Voila on
    127.0.0.1.

    Open one of the addresses printed: each carries this run's token (new every run), without
    which the server refuses every request, so other accounts on this machine cannot use the
    dashboards as you. Once a page is open, the others open in that browser without the token
    until the server stops. The user is the one named by JUPYTERHUB_USER or SJR_USER (see
    deploy/README.md for JupyterHub), else ~/.config/sjr/identity; on a synthetic demo store
    (`make demo`) with none of these, the dashboards sign you in as demo-lead and say so
    (SJR_USER=demo-reviewer for the review entry form as a reviewer)."""
    from data_access.demo import default_identity
    from sjrlib.caller_paths import absolute_database_url
    from sjrlib.dashboards.serve import page_url, serve_token
    from sjrlib.dashboards.serve import serve as run

    try:
        token = serve_token()
    except ValueError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo("Dashboards (Ctrl-C to stop); open one of these addresses, which carry this "
               "run's token: give them to nobody.")
    for name in DASHBOARDS:
        typer.echo(f"  {page_url(port, name, token)}")
    typer.echo("Once one page is open, the others open in that browser without the token, "
               f"e.g. http://127.0.0.1:{port}/voila/render/explore.ipynb, until the server "
               f"stops; http://127.0.0.1:{port}/ lists them.")
    default = default_identity(absolute_database_url(db))
    if default is not None:
        typer.echo(f"Demo store and no identity given: signed in as {default}. Another demo "
                   "user: SJR_USER=demo-reviewer make serve (see the README).")
    try:
        code = run(port=port, db=db, notebooks_dir=notebooks, preheat=preheat, token=token)
    except FileNotFoundError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    if code == 0:  # stopped (Ctrl-C): what Voila and its kernels said while stopping is not shown
        typer.echo("Dashboards stopped: the server and its kernels have shut down.", err=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
