"""Theme coding in the review entry form (issue 13): the part of :class:`ReviewForm` that lets
an organisation lead or a second-stage reviewer code the review in the form with themes.

Suggestions come from the review's explicit judgements (:func:`_widgets.theme_offers`); a
person accepts or rejects each, or adds a theme of the store's codebook by hand
(:func:`_widgets.theme_chooser`). A code is stored through ``Session.code_review`` (audited,
scoped) only on a submitted or locked review: choices made while the review is written wait
for its submission, and a rejected suggestion is never stored. Each coder sees only their own
codes, so that the agreement between coders means something.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import pandas as pd

from data_access import AccessDenied
from sjrlib import domain
from sjrlib.dashboards import _widgets as ui

__all__ = ["ThemeCoding"]


class ThemeCoding:
    """Mixed into :class:`sjrlib.dashboards.entry_form.ReviewForm`: reads the form's
    ``session``, ``review_id``, ``status``, ``stage``, its judgement fields and its
    not-applicable boxes; keeps ``themes`` (the chooser, ``None`` when coding is off)."""

    session: Any
    review_id: str | None
    status: str
    stage: str
    themes: ui.ThemeChooser | None

    def _themes_section(self) -> list[w.Widget]:
        """Theme coding (issue 13), for leads and second-stage reviewers: suggestions from the
        judgements to accept or reject, and themes added by hand from the store's codebook."""
        if not self._coding or not self._may("code_review"):
            return []
        try:
            book = self.session.codebook()
        except ValueError:  # a store without a codebook: nothing to code with
            return []
        self.codebook_version = book.version
        self.themes = ui.theme_chooser(book.active, phases=domain.labels("phase"),
                                       on_code=self._code_theme, on_remove=self._unpend)
        self.themes_state = w.HTML()
        self.themes_state.add_class("sjr-hint")
        self.themes_section = ui.section(
            "Themes", self.themes_state, self.themes.widget,
            hint="What this review teaches, as themes of the codebook (optionally for one phase "
                 "of care). Only a theme you accept or add becomes a code.")
        return [self.themes_section]

    def coding_here(self) -> bool:
        """Whether this user codes themes on the review in the form: an organisation lead on
        any review, a reviewer on their second-stage reviews."""
        return self.themes is not None and (self._lead or self.stage == "second")

    def _codable_now(self) -> bool:
        return self.review_id is not None and self.status in ("submitted", "locked")

    def _code_theme(self, theme: str, phase: str | None, from_suggestion: bool) -> ui.ThemeCode:
        """The chooser's ``on_code``: store the code now on a submitted review (through the
        governed session, audited), or hold it until this review is submitted."""
        how = "accepted suggestion" if from_suggestion else "added by hand"
        if self._codable_now():
            self.session.code_review(self.review_id, theme, phase=phase,
                                     from_suggestion=from_suggestion)
            return ui.ThemeCode(theme, phase, f"{how} · coded")
        self._pending.append((theme, phase, from_suggestion))
        return ui.ThemeCode(theme, phase, f"{how} · stored when the review is submitted",
                            pending=True)

    def _unpend(self, theme: str, phase: str | None) -> None:
        self._pending = [p for p in self._pending if (p[0], p[1]) != (theme, phase)]

    def _stored_codes(self) -> tuple[list[ui.ThemeCode], int]:
        """This user's codes on the review in the form, and how many codes others gave (not
        shown: each coder codes independently, so that their agreement means something)."""
        if self.review_id is None:
            return [], 0
        codes = self.session.theme_codes(self.review_id)
        mine = codes[codes["coded_by"] == self.session.user]
        shown = [ui.ThemeCode(str(r.theme), None if pd.isna(r.phase) else str(r.phase),
                              ("accepted suggestion" if r.from_suggestion else "added by hand")
                              + f" · coded {pd.Timestamp(r.coded_at):%d %b %Y}")
                 for r in mine.itertuples()]
        return shown, len(codes) - len(mine)

    def _themes_opened(self) -> None:
        """Another review is in the form: its own codes, fresh suggestions, nothing pending."""
        if self.themes is None:
            return
        self._pending = []
        self._suggested_for = None
        self.themes.clear()
        here = self.coding_here()
        self.themes_section.layout.display = "" if here else "none"
        if not here:
            return
        codes, others = self._stored_codes()
        self.themes.show(codes=codes)
        self._others_coded = others
        self._themes_state()
        self._suggest_themes()

    def _themes_state(self) -> None:
        if self._codable_now():
            say = (f"Each theme you accept or add is stored at once, in your name, under "
                   f"codebook {self.codebook_version}.")
        else:
            say = ("Themes you accept or add now are stored when the review is submitted "
                   "(a draft cannot be coded yet).")
        if self._others_coded:
            say += (f" {self._others_coded} code{'s' if self._others_coded != 1 else ''} by "
                    "other coders not shown: each coder codes independently.")
        self.themes_state.value = say

    def _suggest_themes(self) -> None:
        """Suggestions from the phases' explicit judgements (one per theme, at the phase that
        suggests it most), worked out again only when a judgement changed."""
        if not self.coding_here():
            return
        texts = tuple((phase, self.fields[domain.comment_column(phase)].value)
                      for phase in domain.PHASES if not self._na[phase].value)
        texts = tuple((p, t) for p, t in texts if t)
        if texts == self._suggested_for:
            return
        self._suggested_for = texts
        self.themes.show(offers=ui.theme_offers(texts))

    def _store_pending(self) -> str:
        """Code the just-submitted review with the themes chosen while it was written; a
        sentence for the banner."""
        stored, refused = 0, []
        for theme, phase, from_suggestion in self._pending:
            try:
                self.session.code_review(self.review_id, theme, phase=phase,
                                         from_suggestion=from_suggestion)
                stored += 1
            except (ValueError, AccessDenied) as exc:
                refused.append(f"{theme}: {exc}")
        self._pending = []
        codes, self._others_coded = self._stored_codes()
        self.themes.show(codes=codes)
        self._themes_state()
        said = f" {stored} theme{'s' if stored != 1 else ''} coded." if stored else ""
        if refused:
            said += " Not coded: " + html.escape("; ".join(refused)) + "."
        return said
