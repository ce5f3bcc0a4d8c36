"""Themes: the codebook, and suggested themes for judgement statements (``spec/learning.md``)."""

from sjrlib.themes.codebook import Codebook, CodebookError, Theme, load_codebook, shipped_codebook
from sjrlib.themes.suggest import Suggestion, suggest, suggest_many

__all__ = ["Codebook", "CodebookError", "Suggestion", "Theme", "load_codebook",
           "shipped_codebook", "suggest", "suggest_many"]
