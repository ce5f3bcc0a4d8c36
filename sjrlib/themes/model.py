"""The model behind theme suggestions: scikit-learn, trained from text shipped with the package.

Features are TF-IDF word uni- and bigrams, TF-IDF character n-grams within words (so
``escalated``/``escalation`` and misspellings share evidence) and a clinical lexicon: for each
theme, how many of its terms the statement uses (``sjrlib/data/themes-lexicon.csv``; ``NEWS2``,
``DNACPR``, ``outlier`` ...), which carries a theme to wordings the training statements never
used. One logistic regression per theme (one-vs-rest, balanced class weights, C=30) gives each
theme a probability; a theme is worth showing when its probability reaches the threshold (0.6).
These settings were chosen on the development statements ``tests/data/themes/dev.csv`` (never
trained on); the held-out statements ``tests/data/themes/heldout.csv`` were written afterwards
and only measured.

Training data, before any person has coded a review: the codebook's examples, the lexicon's
terms, and the seed statements in ``sjrlib/data/themes-seed.csv`` (written for this purpose,
kept apart from the evaluation statements in ``tests/data/themes``). After people have coded
reviews, :func:`train_model` adds their accepted codes (``sjr themes train``). Nothing is
downloaded: the model is trained here and kept in a private file (:func:`model_path`).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sjrlib.themes.codebook import Codebook, shipped_codebook

__all__ = [
    "DEFAULT_THRESHOLD",
    "CodedStatement",
    "ThemeModel",
    "lexicon",
    "load_model",
    "model_path",
    "save_model",
    "seed_fingerprint",
    "statements_from_codes",
    "seed_statements",
    "train_model",
]

DEFAULT_THRESHOLD = 0.6
_DATA = Path(__file__).resolve().parent.parent / "data"
_FORMAT = 2


@dataclass(frozen=True)
class CodedStatement:
    """A judgement statement and the themes a person gave it (none is a valid answer)."""

    text: str
    themes: tuple[str, ...]


def statements_from_codes(codes) -> list[CodedStatement]:
    """Training statements from stored theme codes (``Session.theme_codes(with_text=True)``).

    One statement per review, phase and text, with every theme coded on it by anyone; codes on
    an empty text are left out. Only stored codes are used: every one was given or accepted by a
    person.
    """
    grouped: dict[tuple[str, str, str], set[str]] = {}
    for review, phase, text, theme in zip(codes["review_id"], codes["phase"], codes["text"],
                                          codes["theme"]):
        if not isinstance(text, str) or not text.strip():
            continue
        key = (str(review), "" if not isinstance(phase, str) else phase, text)
        grouped.setdefault(key, set()).add(str(theme))
    return [CodedStatement(text, tuple(sorted(themes)))
            for (_, _, text), themes in sorted(grouped.items())]


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def lexicon() -> dict[str, tuple[str, ...]]:
    """The clinical lexicon: theme id -> its terms (lower case), from the shipped CSV."""
    out: dict[str, tuple[str, ...]] = {}
    for row in _read_rows(_DATA / "themes-lexicon.csv"):
        out[row["theme"]] = tuple(t.strip().lower() for t in row["terms"].split("|")
                                  if t.strip())
    return out


def seed_statements(codebook: Codebook | None = None) -> list[CodedStatement]:
    """The statements the model starts from: codebook examples, lexicon terms, seed statements.

    Only themes of ``codebook`` that are not retired are kept.
    """
    codebook = codebook or shipped_codebook()
    active = {t.id for t in codebook.active}
    out = [CodedStatement(e, (t.id,)) for t in codebook.active for e in t.examples]
    for theme, terms in lexicon().items():
        if theme in active:
            out.extend(CodedStatement(term, (theme,)) for term in terms)
    for row in _read_rows(_DATA / "themes-seed.csv"):
        themes = tuple(t for t in row["themes"].split(";") if t in active)
        out.append(CodedStatement(row["text"], themes))
    return out


_TOKEN = re.compile(r"[^\W_]+(?:['&][^\W_]+)*")
"""Words: letters and digits, with an inner apostrophe or ampersand (patient's, a&e); spaces,
hyphens and other punctuation separate words (x-ray is x ray, as written either way)."""


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class LexiconFeatures:
    """Per theme, log(1 + number of places a lexicon term starts): a scikit-learn transformer.

    A term of fewer than four characters (NEWS, ED, reg, son) matches whole words only; a longer
    one is a stem for its last word ("escalat" finds escalate, escalated, escalation). Matching
    is on words looked up in dictionaries, not regular expressions: a 100,000-statement batch
    costs about as much as its TF-IDF.
    """

    def __init__(self, terms: dict[str, tuple[str, ...]], themes: Sequence[str]):
        self.terms = terms
        self.themes = list(themes)
        self._stems: dict[str, set[int]] = {}  # one-word stems -> themes
        self._phrases: dict[str, list[tuple[int, tuple[str, ...], bool]]] = {}
        for column, theme in enumerate(self.themes):
            for term in terms.get(theme, ()):
                words = tuple(_tokens(term))
                if not words:
                    continue
                stem = len(term) >= 4 and term[-1].isalnum()
                if len(words) == 1 and stem:
                    self._stems.setdefault(words[0], set()).add(column)
                else:
                    self._phrases.setdefault(words[0], []).append((column, words[1:], stem))

    def _row(self, text: str) -> list[int]:
        counts = [0] * len(self.themes)
        words = _tokens(text)
        for i, word in enumerate(words):
            found: set[int] = set()
            for k in range(4, len(word) + 1):
                found.update(self._stems.get(word[:k], ()))
            for column, rest, stem in self._phrases.get(word, ()):
                if column in found:
                    continue
                if not rest:  # a short word, matched whole
                    found.add(column)
                    continue
                tail = words[i + 1: i + 1 + len(rest)]
                if len(tail) == len(rest) and tail[:-1] == list(rest[:-1]) and (
                        tail[-1] == rest[-1] or (stem and tail[-1].startswith(rest[-1]))):
                    found.add(column)
            for column in found:
                counts[column] += 1
        return counts

    def fit(self, texts: Iterable[str], y=None) -> LexiconFeatures:  # noqa: D102 - sklearn API
        return self

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:  # noqa: D102 - sklearn API
        rows = [self._row(text) for text in texts]
        return sp.csr_matrix(np.log1p(np.asarray(rows, dtype=float).reshape(-1, len(self.themes))))

    def get_params(self, deep: bool = True) -> dict:  # noqa: D102 - sklearn API
        return {"terms": self.terms, "themes": self.themes}

    def __getstate__(self) -> dict:
        return {"terms": self.terms, "themes": self.themes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["terms"], state["themes"])


def _pipeline(themes: Sequence[str], terms: dict[str, tuple[str, ...]]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                  token_pattern=r"(?u)\b\w[\w&-]*\b", strip_accents="unicode")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                  min_df=2, strip_accents="unicode")),
        ("lexicon", LexiconFeatures(terms, themes)),
    ], transformer_weights={"words": 1.0, "chars": 1.0, "lexicon": 0.5})
    classifier = OneVsRestClassifier(
        LogisticRegression(C=30.0, class_weight="balanced", max_iter=5000))
    return Pipeline([("features", features), ("classifier", classifier)])


@dataclass
class ThemeModel:
    """A trained model: the codebook version and themes it knows, and how it was trained."""

    codebook_version: str
    themes: tuple[str, ...]
    pipeline: object
    threshold: float = DEFAULT_THRESHOLD
    n_seed: int = 0
    n_human: int = 0
    fingerprint: str = ""
    sklearn_version: str = ""
    format: int = field(default=_FORMAT)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text and one column per theme (order of ``themes``)."""
        if not len(texts):
            return np.zeros((0, len(self.themes)))
        return np.asarray(self.pipeline.predict_proba(list(texts)), dtype=float)


def seed_fingerprint() -> str:
    """A digest of what every model starts from: the seed statements, the lexicon, this model
    code's format and scikit-learn's version. The codebook is not part of it: a model trained
    for a newer codebook (``sjr themes train --store``) stays in use."""
    import sklearn

    h = hashlib.sha256(f"{_FORMAT}|{sklearn.__version__}|".encode())
    for name in ("themes-seed.csv", "themes-lexicon.csv"):
        h.update((_DATA / name).read_bytes())
    return h.hexdigest()


def train_model(human: Sequence[CodedStatement] = (), *, codebook: Codebook | None = None,
                threshold: float = DEFAULT_THRESHOLD) -> ThemeModel:
    """Train a model on the seed statements and, if given, statements people coded.

    Parameters
    ----------
    human
        Statements with the themes people accepted for them (a suggestion nobody accepted is
        never training data). Themes not active in ``codebook`` are ignored.
    codebook
        The codebook whose active themes the model suggests (default: the shipped one).
    threshold
        The probability from which a theme is worth showing.

    Returns
    -------
    ThemeModel
    """
    codebook = codebook or shipped_codebook()
    themes = tuple(t.id for t in codebook.active)
    active = set(themes)
    seed = seed_statements(codebook)
    people = [CodedStatement(s.text, tuple(t for t in s.themes if t in active)) for s in human]
    statements = seed + people
    y = np.array([[t in s.themes for t in themes] for s in statements], dtype=int)
    missing = [t for t, n in zip(themes, y.sum(axis=0)) if n == 0]
    if missing:
        raise ValueError(f"no training statement for theme(s) {', '.join(missing)}; add examples "
                         "to the codebook")
    pipeline = _pipeline(themes, {k: v for k, v in lexicon().items() if k in active})
    # One BLAS/OpenMP thread: OpenBLAS starts one per core and its threads wait for each other
    # (spinning) whenever another process holds a core, as every kernel of a shared server
    # does. The model is the same; on two loaded cores a lead's training on the demo store
    # (718 seed and 2,438 coded statements) took 34-51 s (25.5 CPU s) with the default threads
    # and 6-8 s (4.8 CPU s) with one (2026-12-07); on an idle machine one thread is not slower
    # (these matrices are small).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        pipeline.fit([s.text for s in statements], y)
    # The fingerprint names the seed (not the people's codes nor the codebook): a kept model whose
    # seed or scikit-learn differ from this installation's is trained again.
    import sklearn

    return ThemeModel(codebook.version, themes, pipeline, threshold, len(seed), len(people),
                      seed_fingerprint(), sklearn.__version__)


def model_path() -> Path:
    """Where the trained model is kept: ``$SJR_THEMES_MODEL``, else the user's cache folder.

    The cache folder is ``$XDG_CACHE_HOME/sjr`` (``~/.cache/sjr`` by default).
    """
    if os.environ.get("SJR_THEMES_MODEL"):
        return Path(os.environ["SJR_THEMES_MODEL"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "sjr" / "themes-model.joblib"


def save_model(model: ThemeModel, path: str | Path | None = None) -> Path:
    """Write the model to a private file (0600, whole, never through a link).

    A model trained on people's codes holds words of their judgement statements, so it is
    as private as the store they came from.
    """
    import io

    import joblib

    from sjrlib.safe_files import make_private_folder, write_private

    path = Path(path) if path is not None else model_path()
    make_private_folder(path.parent)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    write_private(path, buffer.getvalue())
    return path


def load_model(path: str | Path | None = None) -> ThemeModel | None:
    """The model kept at ``path``, or ``None`` if there is none that can be trusted.

    A file is only unpickled when it is a regular file owned by this user and writable by
    nobody else (unpickling runs code), and only if it was written by this version of the
    model code; otherwise ``None``, and the caller trains a new one.
    """
    import joblib

    path = Path(path) if path is not None else model_path()
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o022:
        return None
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return None
    try:
        model = joblib.load(path)
    except Exception:  # noqa: BLE001 - a damaged or foreign cache file is retrained, not fatal
        return None
    import sklearn

    if (not isinstance(model, ThemeModel) or model.format != _FORMAT
            or model.sklearn_version != sklearn.__version__):
        return None
    return model
