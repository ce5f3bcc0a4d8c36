"""Suggested themes for judgement statements, for a person to accept or reject.

A suggestion is only ever a suggestion: it is shown to a coder, and counts in nothing (no
figure, no report, no training) until a person accepts it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sjrlib.themes.model import ThemeModel, load_model, save_model, seed_fingerprint, train_model

__all__ = ["Suggestion", "current_model", "suggest", "suggest_many", "use_model"]

_lock = threading.Lock()
_model: ThemeModel | None = None


class Suggestion(NamedTuple):
    """A theme worth showing for a statement, with the model's probability for it (0-1)."""

    theme: str
    score: float


def current_model() -> ThemeModel:
    """The model suggestions come from, trained at first use if need be.

    Taken, in order, from memory, from the private model file (``sjr themes train`` writes it;
    see :func:`sjrlib.themes.model.model_path`) if it was trained from this installation's seed,
    or trained from the seed now (a second or two) and written to that file for next time.
    """
    global _model
    with _lock:
        if _model is None:
            model = load_model()
            if model is None or model.fingerprint != seed_fingerprint():
                model = train_model()
                try:
                    save_model(model)
                except OSError:
                    pass  # a read-only home still gets suggestions, trained in memory
            _model = model
        return _model


def use_model(model: ThemeModel | None) -> None:
    """Make ``model`` the one suggestions come from (``None``: load or train again at next use)."""
    global _model
    with _lock:
        _model = model


def suggest(text: str, *, model: ThemeModel | None = None,
            threshold: float | None = None) -> list[Suggestion]:
    """Themes worth showing for one judgement statement, best first.

    Parameters
    ----------
    text
        The statement.
    model
        The model to use (default: :func:`current_model`).
    threshold
        Show themes whose probability reaches this (default: the model's own, 0.6).

    Returns
    -------
    list of Suggestion
        ``.theme`` (a codebook id) and ``.score`` (0-1), highest score first; empty for an
        empty statement or when no theme reaches the threshold.

    Examples
    --------
    >>> [s.theme for s in suggest("NEWS2 of 7 not escalated; antibiotics given 6 hours late")]
    ['deterioration', 'sepsis']
    """
    return suggest_many([text], model=model, threshold=threshold)[0]


def suggest_many(texts: Iterable[str], *, model: ThemeModel | None = None,
                 threshold: float | None = None,
                 batch_size: int = 5000) -> list[list[Suggestion]]:
    """:func:`suggest` for many statements (one list per statement, in order), in batches.

    ``None`` or blank statements get an empty list.
    """
    model = model or current_model()
    cut = model.threshold if threshold is None else threshold
    out: list[list[Suggestion]] = []
    batch: list[str] = []
    for text in texts:
        batch.append(text if isinstance(text, str) else "")
        if len(batch) >= batch_size:
            out.extend(_suggest_batch(model, batch, cut))
            batch = []
    if batch:
        out.extend(_suggest_batch(model, batch, cut))
    return out


def _suggest_batch(model: ThemeModel, texts: Sequence[str], cut: float) -> list[list[Suggestion]]:
    # Each distinct statement is scored once ("No concerns." recurs in every batch).
    distinct = list(dict.fromkeys(t for t in texts if t.strip()))
    scores = model.scores(distinct)
    answers: dict[str, list[Suggestion]] = {}
    for text, row in zip(distinct, scores):
        found = [Suggestion(theme, round(float(p), 4))
                 for theme, p in zip(model.themes, row) if p >= cut]
        answers[text] = sorted(found, key=lambda s: (-s.score, s.theme))
    return [list(answers.get(t, ())) for t in texts]
