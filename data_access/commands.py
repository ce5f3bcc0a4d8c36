"""Governance commands: ``sjr users``, ``sjr approvals``, ``sjr audit``, ``sjr extract``.

Every command acts as the user found by :mod:`data_access.identity` (``JUPYTERHUB_USER``,
``SJR_USER`` or the identity file) through the same governed session as notebooks, so it is
checked and audited the same way. The one exception is the very first user of a new store:
``sjr users add NAME --role administrator`` on a store with no users registers that
administrator (and says so in the audit log).

Stable forms::

    sjr users add NAME --role ROLE [--organisation CODE] [--reviewer-id REF]
    sjr users list | sjr users disable NAME | sjr users enable NAME
    sjr users connection-limit [N]
    sjr approvals add FILE.yaml | sjr approvals add --id ID --applicant U ... (options)
    sjr approvals list | sjr approvals revoke ID --reason TEXT
    sjr extract --approval ID --out FILE.parquet|csv [--field F ...]
    sjr audit verify | sjr audit show [--user U] [--action A] [--since D] [--until D]
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import typer
from pydantic import ValidationError

from sjrlib.commands.common import fail, open_cli_session, run_call

DB_OPTION = typer.Option(
    None, "--db", metavar="URL",
    help="Database URL; default $SJR_DATABASE_URL, else sqlite:///data/sjr.db.",
)
_TOOL = "cli"

users_app = typer.Typer(help="Users and their roles (administrators).", no_args_is_help=True)
approvals_app = typer.Typer(help="The register of data access approvals (administrators).",
                            no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log (administrators).",
                        no_args_is_help=True)


def _session(db: str | None):
    from data_access.store import database_url, init_db

    url = database_url(db)
    init_db(url)
    return open_cli_session(url, tool=_TOOL)


def _run(session, call):
    """Run one session call; turn refusals and bad input into one clear line and exit 1."""
    from data_access.approvals import ApprovalError

    return run_call(session, call, bad_input=(ApprovalError, ValueError))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_safe(value: object) -> object:
    """A text with its control characters written as ``\\xNN``: an audit entry's action or
    tool is free text a person's own role may write (PostgreSQL), and an escape sequence in it
    must not move the cursor or recolour the administrator's terminal (an insider audit showed
    a reviewer's entry printed as the administrator's)."""
    if not isinstance(value, str):
        return value
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def _table(frame: pd.DataFrame, title: str) -> None:
    """Print a frame as plain aligned text (never truncated, easy to grep, control characters
    escaped: :func:`terminal_safe`)."""
    typer.echo(f"{title} ({len(frame)})")
    if len(frame):
        # as text first: a nullable integer column (an entry with no row count) cannot hold ""
        cells = frame.astype(object).where(frame.notna(), "").map(terminal_safe)
        typer.echo(cells.to_string(index=False))


# ---------------------------------------------------------------------------- users ----
@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="The user's login name (as JupyterHub knows it)."),
    role: str = typer.Option(..., "--role", help="reviewer, organisation_lead, programme_team, "
                             "researcher or administrator."),
    organisation: str | None = typer.Option(None, "--organisation",
                                            help="Organisation code (reviewers and leads)."),
    reviewer_id: str | None = typer.Option(None, "--reviewer-id",
                                           help="Pseudonymous reviewer reference (reviewers)."),
    db: str | None = DB_OPTION,
) -> None:
    """Register a user. On a store with no enabled administrator, registers one (the operator's
    bootstrap: only `--role administrator`)."""
    from data_access import AccessDenied
    from data_access.identity import count_administrators
    from data_access.session import bootstrap_administrator
    from data_access.store import database_url, get_engine, init_db

    url = database_url(db)
    init_db(url)
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            no_administrator = count_administrators(conn) == 0
    finally:
        engine.dispose()
    if no_administrator:
        if role != "administrator":
            fail("this store has no administrator yet: register one first "
                  f"(sjr users add NAME --role administrator), then add {username} as them")
        try:
            bootstrap_administrator(username, url, tool=_TOOL)
        except (AccessDenied, ValueError) as exc:
            fail(f"refused: {exc}")
        typer.echo(f"{username}: administrator registered (the store had none).")
        return
    s = _session(db)
    _run(s, lambda: s.add_user(username, role, organisation_code=organisation,
                               reviewer_id=reviewer_id))
    typer.echo(f"{username}: registered as {role}.")


@users_app.command("list")
def users_list(db: str | None = DB_OPTION) -> None:
    """List users, their roles and organisations."""
    s = _session(db)
    _table(_run(s, s.users), "Users")


@users_app.command("disable")
def users_disable(username: str, db: str | None = DB_OPTION) -> None:
    """Disable a user: from their next request on, they get nothing."""
    s = _session(db)
    _run(s, lambda: s.disable_user(username))
    typer.echo(f"{username}: disabled.")


@users_app.command("enable")
def users_enable(username: str, db: str | None = DB_OPTION) -> None:
    """Enable a disabled user again."""
    s = _session(db)
    _run(s, lambda: s.enable_user(username))
    typer.echo(f"{username}: enabled.")


@users_app.command("connection-limit")
def users_connection_limit(
    limit: int | None = typer.Argument(
        None, metavar="N", help="Connections each person's database role may hold at once "
                                  "(PostgreSQL); left out: show it."),
    db: str | None = DB_OPTION,
) -> None:
    """Show or set how many connections each person may hold to a PostgreSQL store at once
    (their role's CONNECTION LIMIT; default 20). Setting it applies it to every person's role
    now: open connections stay, the next one past the limit is refused."""
    from data_access import AccessDenied, audit, pg_security
    from data_access.roles import ADMINISTRATOR, with_article
    from data_access.store import database_url, get_engine

    s = _session(db)
    action = "users.connection_limit"
    engine = get_engine(database_url(db))

    def refuse(reason: str, scope: dict) -> None:
        """A refusal in the audit log, as the session's door writes one."""
        with engine.begin() as conn:
            audit.lock(conn)
            audit.append(conn, username=s.user, role=s.role, action=f"{action}.denied",
                         scope={**scope, "reason": reason}, tool=_TOOL)
        raise AccessDenied(reason)

    def call() -> None:
        scope = {"connection_limit": limit}
        if limit is not None and s.role != ADMINISTRATOR:  # on either engine, audited
            refuse(f"{with_article(s.role)} may not use {action}", scope)
        if engine.dialect.name != "postgresql":
            raise ValueError("a SQLite store is one person's: it has no database roles, so no "
                             "connection limit (PostgreSQL only)")
        if limit is None:
            with engine.connect() as conn:
                most = pg_security.connection_limit(conn)
            typer.echo(f"Each person's database role may hold at most {most} connections at "
                       "once (sjr users connection-limit N changes it).")
            return
        try:
            with engine.begin() as conn:
                changed = pg_security.set_connection_limit(conn, limit, acting=s.user,
                                                           tool=_TOOL)
        except AccessDenied as exc:
            refuse(str(exc), scope)
        typer.echo(f"Each person's database role may now hold at most {limit} connections at "
                   f"once ({changed} role(s) changed; open connections stay).")

    try:
        _run(s, call)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------ approvals ----
@approvals_app.command("add")
def approvals_add(
    file: Path | None = typer.Argument(None, help="YAML file of one approval or a list."),
    approval_id: str | None = typer.Option(None, "--id"),
    applicant: list[str] | None = typer.Option(None, "--applicant",
                                               help="Researcher user name (repeat)."),
    purpose: str | None = typer.Option(None, "--purpose"),
    organisation: list[str] | None = typer.Option(None, "--organisation",
                                                  help="Organisation code (repeat)."),
    period_start: str | None = typer.Option(None, "--period-start", help="First death month."),
    period_end: str | None = typer.Option(None, "--period-end", help="Last death month."),
    field: list[str] | None = typer.Option(None, "--field", help="Released column (repeat)."),
    free_text: bool = typer.Option(False, "--free-text/--no-free-text"),
    date_coarsening: str = typer.Option("month", "--date-coarsening",
                                        help="month or quarter"),
    k_value: int = typer.Option(5, "--k", help="k-anonymity: every released combination of "
                          "quasi-identifiers holds at least k cases (at least 2)."),
    deaths: bool = typer.Option(False, "--deaths/--no-deaths",
                                help="Release counts of deaths (the denominators)."),
    start_date: str | None = typer.Option(None, "--start", help="First day of use."),
    end_date: str | None = typer.Option(None, "--end", help="Last day of use."),
    db: str | None = DB_OPTION,
) -> None:
    """Add approvals from a YAML file, or one from the options."""
    from data_access.approvals import ApprovalError, load_approval_file, spec_from_values

    try:
        if file is not None:
            specs = load_approval_file(file)
        else:
            values = {
                "id": approval_id, "applicants": applicant, "purpose": purpose,
                "organisations": organisation, "period_start": period_start,
                "period_end": period_end, "fields": field, "free_text": free_text,
                "date_coarsening": date_coarsening, "k": k_value, "deaths": deaths,
                "start_date": start_date,
                "end_date": end_date,
            }
            specs = [spec_from_values({k: v for k, v in values.items() if v is not None})]
    except (ApprovalError, ValidationError) as exc:
        fail(str(exc))
    s = _session(db)

    def add_all() -> None:
        for spec in specs:
            s.add_approval(spec)
            typer.echo(f"{spec.id}: added ({', '.join(spec.organisations)}, "
                       f"{spec.period_start} to {spec.period_end}, until {spec.end_date}).")

    _run(s, add_all)


@approvals_app.command("list")
def approvals_list(db: str | None = DB_OPTION) -> None:
    """List approvals and their status."""
    s = _session(db)
    frame = _run(s, s.approvals)
    _table(frame[["approval_id", "status", "applicants", "organisations", "period_start",
                  "period_end", "free_text", "date_coarsening", "k", "deaths", "start_date",
                  "end_date"]],
           "Approvals")


@approvals_app.command("revoke")
def approvals_revoke(approval_id: str,
                     reason: str = typer.Option(..., "--reason", help="Why (recorded)."),
                     db: str | None = DB_OPTION) -> None:
    """Revoke an approval now."""
    s = _session(db)
    _run(s, lambda: s.revoke_approval(approval_id, reason))
    typer.echo(f"{approval_id}: revoked.")


# ---------------------------------------------------------------------------- audit ----
@audit_app.command("verify")
def audit_verify(db: str | None = DB_OPTION) -> None:
    """Check the hash chain; list every edited, deleted, inserted or moved entry (exit 1)."""
    s = _session(db)
    result = _run(s, s.verify_audit)
    if result.ok:
        pending = (f"; {result.pending} entries pending in the audit queue (moved into the "
                   "log by the next write)" if result.pending else "")
        typer.echo(f"audit log intact: {result.entries} entries; head {result.head_id} "
                   f"{result.head_hash}{pending}")
        return
    for problem in result.problems:
        typer.echo(str(problem), err=True)
    fail(f"audit log TAMPERED: {len(result.problems)} problem(s) in {result.entries} entries"
         + (f" and {result.pending} pending in the audit queue" if result.pending else ""))


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date written YYYY-MM-DD, not {value!r}")


@audit_app.command("show")
def audit_show(
    user: str | None = typer.Option(None, "--user"),
    action: str | None = typer.Option(None, "--action",
                                      help="An action, or an area such as 'users'."),
    since: str | None = typer.Option(None, "--since", help="YYYY-MM-DD (inclusive)."),
    until: str | None = typer.Option(None, "--until", help="YYYY-MM-DD (inclusive)."),
    db: str | None = DB_OPTION,
) -> None:
    """Show audit entries, filtered by user, action and period."""
    since_d, until_d = _date(since, "--since"), _date(until, "--until")
    s = _session(db)
    frame = _run(s, lambda: s.audit_log(username=user, action=action, since=since_d,
                                        until=until_d))
    _table(frame[["id", "at", "username", "role", "action", "scope", "rows", "approval_id",
                  "tool"]], "Audit log")


# -------------------------------------------------------------------------- extract ----
def extract(
    approval: str = typer.Option(..., "--approval", help="Approval id."),
    out: Path = typer.Option(..., "--out", help="FILE.parquet or FILE.csv"),
    field: list[str] | None = typer.Option(None, "--field",
                                           help="Only these approved fields (repeat)."),
    db: str | None = DB_OPTION,
) -> None:
    """Write a researcher's extract under an approval, with a manifest beside it."""
    from sjrlib.safe_files import UnsafePathError

    s = _session(db)
    try:
        result = _run(s, lambda: s.extract(approval, out, fields=field or None))
    except UnsafePathError as exc:
        fail(f"refused: {exc}")
    except OSError as exc:  # a full disk: the extract removes whatever of it was written
        fail(f"{out}: cannot write the extract ({exc.strerror or exc}); nothing was written")
    typer.echo(f"{result.path}: {result.rows} rows, {len(result.fields)} fields, "
               f"sha256 {result.sha256}; manifest {result.manifest}")
    summary = _anonymity_summary(result.manifest)
    if summary:
        typer.echo(summary)
    for table in result.linked:
        typer.echo(f"{table.path}: {table.rows} {table.name} linked by {table.key}, "
                   f"sha256 {table.sha256}")


def _anonymity_summary(manifest: Path) -> str | None:
    """One line on what k-anonymity did to the extract (its manifest's ``k_anonymity``): the
    quasi-identifiers dropped (empty columns in the file), those coarsened, the rows withheld.
    The walk-through audit (2026-12-06) read "3349 rows, 24 fields" and found three of them
    empty, said only in the manifest."""
    import json

    from data_access.anonymity import QUASI_IDENTIFIERS

    try:
        k_anon = json.loads(Path(manifest).read_text(encoding="utf-8")).get("k_anonymity") or {}
    except (OSError, ValueError):
        return None
    levels = k_anon.get("generalised") or {}
    if not levels:
        return None

    def named(qi: str) -> str:
        columns = QUASI_IDENTIFIERS.get(qi, (qi,))
        return qi if columns == (qi,) else f"{qi} ({', '.join(columns)})"

    dropped = [named(q) for q, level in levels.items() if level == "dropped"]
    coarser = [f"{named(q)} to {level}" for q, level in levels.items()
               if level not in ("dropped", "as recorded")]
    parts = [f"k-anonymity (k = {k_anon.get('k')})"]
    if dropped:
        parts.append(f"dropped, empty in the file: {', '.join(dropped)}")
    if coarser:
        parts.append(f"coarsened: {', '.join(coarser)}")
    parts.append(f"{k_anon.get('suppressed_rows', 0)} row(s) withheld")
    return "; ".join(parts) + " (the manifest says how)."


def register(app: typer.Typer) -> None:
    """Add the governance commands to the ``sjr`` app."""
    app.add_typer(users_app, name="users")
    app.add_typer(approvals_app, name="approvals")
    app.add_typer(audit_app, name="audit")
    app.command("extract")(extract)
