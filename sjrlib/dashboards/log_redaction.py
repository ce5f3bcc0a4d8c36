"""No token in what the Voila server of ``sjr serve`` logs.

Tornado logs each failed request with its address (``404 GET /voila/render/x.ipynb?token=...
(127.0.0.1)``, on ``tornado.access``), each refused one with it again (``tornado.general``:
``403 GET /voila/files/a.png?token=...: File denylisted``) and an uncaught exception with the
request's ``repr`` (``tornado.application``), all on the terminal of ``sjr serve``, where a
screen share, a pasted log or a terminal's scroll-back then holds the run's token (security
audit of ``sjr serve``, 2026-12-06). :func:`redact_tokens_in_logs`, called in that process
before Voila starts, makes every log record it creates carry ``token=[redacted]`` instead:
whatever the logger (Tornado's, Voila's, Jupyter Server's), in the message and in a logged
exception's text. ``sjr serve``'s own lines that print the addresses with the token are not
log records, and are the one place the token is meant to be.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["REDACTED", "redact", "redact_tokens_in_logs"]

REDACTED = "[redacted]"

_TOKEN_VALUES = re.compile(
    r"(?P<key>token(?:=|%3D)|\bAuthorization:\s*token\s+)[^&\s#'\",;)]+", re.I)
"""``token=<value>`` in an address (also percent-encoded, ``token%3D``, as in a login form's
``next``; a parameter whose name merely ends in ``token`` is redacted too), and the value of an
``Authorization: token <value>`` header."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the value of every ``token=`` parameter (and ``Authorization: token``
    header), and every one of ``secrets`` wherever it appears, replaced by :data:`REDACTED`."""
    text = _TOKEN_VALUES.sub(lambda m: m.group("key") + REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _redacted_record(record: logging.LogRecord, secrets: tuple[str, ...]) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format is the handler's to report, as before
        return
    clean = redact(message, secrets)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = redact(text, secrets)
        if clean != text:  # formatters use exc_text when it is set
            record.exc_text = clean


def redact_tokens_in_logs(*secrets: str) -> None:
    """Make every log record this process creates from now on hold no token value (see the
    module's text), nor any of ``secrets`` (the run's token, wherever it appears). Idempotent:
    a second call adds its ``secrets``."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_sjr_secrets", None) is not None:
        factory._sjr_secrets.extend(s for s in secrets if s)  # type: ignore[attr-defined]
        return
    kept: list[str] = [s for s in secrets if s]

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _redacted_record(record, tuple(kept))
        return record

    redacting_factory._sjr_secrets = kept  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
