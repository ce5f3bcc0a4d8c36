"""Researchers' extracts under JupyterHub: a hub-managed service and the call a notebook makes.

Under the hub a researcher's kernel connects to PostgreSQL as the researcher's own database
role, which reads no review rows (row-level security). Their extracts are made by this service
instead, which

1. takes the caller's JupyterHub token (``Authorization: token ...``, the kernel's
   ``JUPYTERHUB_API_TOKEN``) and asks the hub whose it is (``/hub/api/user``); the token must be
   a *user's* token holding ``access:services!service=<this service>``. The name used is the
   one the hub returns, never one the caller sends;
2. opens the governed session *as that user* with the service's own database credentials
   (``SJR_DATABASE_URL`` in the service's environment, set by ``deploy/jupyterhub_config.py``)
   and makes the extract with :meth:`Session.extract`, which checks the approval (its
   researchers, organisations, period, fields), pseudonymises and audits it (tool
   ``extract-service``);
3. returns the extract, its linked tables (``theme_codes`` when the approval releases them) and
   its manifest; the caller writes them in its own folder.

:func:`request_extract` is what the researcher quick-start notebook calls: under the hub with
the service configured (``SJR_EXTRACT_SERVICE_URL`` and ``JUPYTERHUB_API_TOKEN`` in the kernel's
environment) it calls the service; elsewhere it opens the session itself
(:func:`data_access.open_session`).

Run the service with ``python -m data_access.extract_service`` (the hub does, as a managed
service); it listens where ``JUPYTERHUB_SERVICE_URL`` says.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data_access.extract import (
    ExtractResult,
    LinkedTable,
    check_destination,
    linked_path,
    manifest_path,
)
from data_access.roles import AccessDenied

__all__ = ["SERVICE_NAME", "ExtractServiceError", "make_app", "request_extract"]

SERVICE_NAME = "sjr-extract"
"""The service's name in the hub (``/services/sjr-extract/``)."""
TOOL = "extract-service"
"""Recorded as the tool of the service's audit entries."""
_ENDPOINT = "api/extract"
_REQUEST_TIMEOUT_S = 600


class ExtractServiceError(RuntimeError):
    """The extract service could not be reached or answered with an error it explains."""


# --------------------------------------------------------------------------- the caller ----
def _choose_approval(session: Any, approval_id: str | None) -> str:
    if approval_id:
        return approval_id
    usable = list(session.approvals()["approval_id"])
    if len(usable) != 1:
        raise AccessDenied("you hold no current approval" if not usable else
                           f"you hold several current approvals ({', '.join(usable)}): "
                           "name the one this extract is made under")
    return usable[0]


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, replacing (never following) what is there."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _call_service(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url.rstrip("/") + "/" + _ENDPOINT, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message") or exc.reason
        except ValueError:
            message = exc.reason
        if exc.code in (401, 403):
            raise AccessDenied(f"extract refused: {message}") from None
        raise ExtractServiceError(f"the extract service answered {exc.code}: {message}"
                                  ) from None
    except urllib.error.URLError as exc:
        raise ExtractServiceError(f"the extract service at {url} cannot be reached "
                                  f"({exc.reason}); ask the hub's operator") from None


def request_extract(approval_id: str | None = None, out: str | Path = "extract.parquet", *,
                    fields: Sequence[str] | None = None, db: str | None = None) -> ExtractResult:
    """Make a researcher's extract and its manifest in ``out`` (``.parquet`` or ``.csv``).

    Parameters
    ----------
    approval_id
        The approval the extract is made under; ``None``: your only current approval.
    out
        The extract file; the manifest is written beside it (``<out>.manifest.json``), and so
        are linked tables (``theme_codes``: ``<out stem>.theme_codes<suffix>``). All are
        created with mode 0600.
    fields
        Fields to release (a subset of the approval's fields); ``None``: all of them.
    db
        Database URL when not under the hub (``None``: ``$SJR_DATABASE_URL``); ignored under
        the hub, where the extract service reads the store.

    Returns
    -------
    ExtractResult
        Where the extract went, its approval, fields, row count and SHA-256.

    Raises
    ------
    AccessDenied
        No usable approval, fields or organisations outside it, or not a researcher.
    ExtractServiceError
        Under the hub: the service cannot be reached or failed.
    """
    out = check_destination(Path(out).expanduser().absolute())
    service = os.environ.get("SJR_EXTRACT_SERVICE_URL", "").strip()
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "").strip()
    if not (service and token):
        from data_access.session import open_session

        with open_session(db=db, tool="notebook:request_extract") as session:
            return session.extract(_choose_approval(session, approval_id), out, fields=fields)
    answer = _call_service(service, token, {"approval_id": approval_id, "file": out.name,
                                            "fields": list(fields) if fields else None})
    return _receive(answer, out)


def _receive(answer: dict[str, Any], out: Path) -> ExtractResult:
    """Write the service's answer (the extract, its linked tables, its manifest) at ``out``,
    each checked against the manifest's SHA-256 before anything is written."""
    data = base64.b64decode(answer["data"])
    manifest = answer["manifest"]
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest["sha256"]:
        raise ExtractServiceError("the extract received does not match its manifest's SHA-256")
    described = manifest.get("linked_tables", {})
    received = {name: base64.b64decode(text) for name, text in
                (answer.get("linked") or {}).items()}
    if set(received) != set(described):
        raise ExtractServiceError("the linked tables received are not those of the manifest")
    tables = []
    for name, body in received.items():
        if hashlib.sha256(body).hexdigest() != described[name]["sha256"]:
            raise ExtractServiceError(f"the {name} table received does not match its "
                                      "manifest's SHA-256")
        tables.append(LinkedTable(name=name, path=linked_path(out, name),
                                  key=described[name]["key"],
                                  columns=tuple(described[name]["columns"]),
                                  rows=int(described[name]["rows"]),
                                  sha256=described[name]["sha256"]))
    _write_private(out, data)
    for table in tables:
        _write_private(table.path, received[table.name])
        manifest["linked_tables"][table.name]["file"] = table.path.name
    _write_private(manifest_path(out), (json.dumps(manifest, indent=2) + "\n").encode())
    return ExtractResult(path=out, manifest=manifest_path(out),
                         approval_id=manifest["approval_id"], fields=tuple(manifest["fields"]),
                         rows=int(manifest["rows"]), sha256=digest, linked=tuple(tables))


# -------------------------------------------------------------------------- the service ----
def _extract_as(engine: Any, username: str, body: dict[str, Any]) -> dict[str, Any]:
    """Make the extract as ``username`` (named by the hub) into a private temporary folder."""
    from data_access.session import open_session

    name = Path(str(body.get("file") or "extract.parquet")).name
    fields = body.get("fields")
    if fields is not None and not (isinstance(fields, list)
                                   and all(isinstance(f, str) for f in fields)):
        raise ValueError("fields must be a list of column names")
    approval_id = body.get("approval_id")
    if approval_id is not None and not isinstance(approval_id, str):
        raise ValueError("approval_id must be text")
    with tempfile.TemporaryDirectory(prefix="sjr-extract-") as folder:
        with open_session(username, engine, tool=TOOL) as session:
            result = session.extract(_choose_approval(session, approval_id),
                                     Path(folder) / name, fields=fields)
        return {"data": base64.b64encode(result.path.read_bytes()).decode("ascii"),
                "linked": {t.name: base64.b64encode(t.path.read_bytes()).decode("ascii")
                           for t in result.linked},
                "manifest": json.loads(result.manifest.read_text(encoding="utf-8"))}


def make_app(engine: Any, prefix: str) -> Any:
    """The service's tornado application: ``POST <prefix>api/extract``.

    Parameters
    ----------
    engine
        The store, opened with the service's own credentials.
    prefix
        The URL prefix the hub's proxy forwards (``JUPYTERHUB_SERVICE_PREFIX``).
    """
    import asyncio

    from jupyterhub.services.auth import HubAuth
    from tornado import web

    hub_auth = HubAuth()
    required = hub_auth.access_scopes or {f"access:services!service={SERVICE_NAME}"}

    class ExtractHandler(web.RequestHandler):
        def _fail(self, status: int, message: str) -> None:
            self.set_status(status)
            self.finish({"message": message})

        async def post(self) -> None:
            header = self.request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() not in ("token", "bearer") or not token.strip():
                return self._fail(401, "no JupyterHub token: call from your hub server")
            model = await hub_auth.user_for_token(token.strip(), use_cache=False, sync=False)
            if not model or model.get("kind", "user") != "user":
                return self._fail(403, "the token is not a hub user's")
            if not hub_auth.check_scopes(required, model):
                return self._fail(403, f"the token does not grant access to {SERVICE_NAME}")
            try:
                body = json.loads(self.request.body or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the request must be a JSON object")
                answer = await asyncio.to_thread(_extract_as, engine, model["name"], body)
            except AccessDenied as exc:
                return self._fail(403, str(exc))
            except ValueError as exc:
                return self._fail(400, str(exc))
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(answer))

    return web.Application([(prefix.rstrip("/") + "/" + _ENDPOINT, ExtractHandler)])


def main() -> None:
    """Run the service where the hub says (``JUPYTERHUB_SERVICE_URL``)."""
    import asyncio
    from urllib.parse import urlparse

    from data_access import store

    os.environ.pop("JUPYTERHUB_USER", None)  # the user comes from each request's token
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    engine = store.get_engine(store.database_url())

    async def serve() -> None:
        app = make_app(engine, prefix)
        app.listen(url.port or 80, address=url.hostname or "127.0.0.1")
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
