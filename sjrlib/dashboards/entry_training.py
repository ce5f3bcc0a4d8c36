"""The review entry form in training mode: a reviewer scores a fictional case of a calibration
round in the ordinary entry form (issue 15, ``shared/spec/training.md``).

:class:`TrainingForm` is :class:`~sjrlib.dashboards.entry_form.ReviewForm` with its save target
set to the calibration store: the same widgets, wording, rules (``sjrlib.schema``, as imports
use them) and identifier screening, asked only where a training case has the panel's reference
answers (the phases of care with their explicit judgements, problems in care with their harm,
avoidability of death) plus the themes the case teaches. It is marked *Training — not a real
review* and shows the fictional case summary in place of the case details. A save goes through
``Session.save_calibration_answer`` (audited, scoped, inside the round's window) into
``calibration_answers``, never ``reviews``: nothing that counts reviews can count it. A
submitted answer is final; the form then shows it read-only.

The questions are those of the answer's form version: a new answer is entered on
:data:`~sjrlib.form.registry.LATEST_VERSION`, a saved draft on the version it was saved at
(blank: the 2017 form, as for reviews); the judgement questions are the same in every version
so far.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as w

from sjrlib import domain
from sjrlib.dashboards import _widgets as ui
from sjrlib.dashboards.entry_form import ReviewForm
from sjrlib.form.registry import FORM_VERSION_COLUMN, registry

__all__ = ["TRAINING_MARK", "TRAINING_SECTIONS", "TrainingForm", "answer_values",
           "form_values", "training_columns"]

TRAINING_SECTIONS: tuple[str, ...] = ("phases", "problems", "avoidability")
"""The sections of the entry form a training case has reference answers for (the spec's phase
scores, problems with harm and avoidability); the case details are the fictional summary."""

TRAINING_MARK = "Training — not a real review"

_CSS = """<style>
.sjr-app .sjr-training-mark { background: #fff4e5; border: 2px solid #ed8b00; padding: 6px 10px;
  margin: 4px 0; }
.sjr-app .sjr-training-mark b { font-size: 15px; }
.sjr-app .sjr-case-summary { background: #f0f4f5; border-left: 6px solid #005eb8;
  padding: 8px 12px; max-width: 820px; white-space: pre-wrap; }
</style>"""


def training_columns() -> frozenset[str]:
    """The review columns the training form asks (and checks): those of the questions of
    :data:`TRAINING_SECTIONS`, less what the workflow fills in."""
    return frozenset(c.name for q in registry().fields() if q.section in TRAINING_SECTIONS
                     for c in q.columns() if c.name != "avoidability_scale")


def answer_values(values: Mapping[str, Any], themes: Sequence[str]) -> dict[str, Any]:
    """The form's values dict as ``Session.save_calibration_answer`` takes a training answer:
    status, form version, phase scores with their judgements, problems with their harm,
    avoidability and themes."""
    out: dict[str, Any] = {"status": values["status"],
                           "form_version": values.get(FORM_VERSION_COLUMN),
                           "comments": {}, "problems": {}, "themes": list(themes)}
    for phase in domain.PHASES:
        out[domain.score_column(phase)] = values.get(domain.score_column(phase))
        comment = values.get(domain.comment_column(phase))
        if comment:
            out["comments"][phase] = comment
    for kind in domain.PROBLEM_TYPES:
        harm = values.get(domain.problem_column(kind))
        if harm:
            out["problems"][kind] = harm
    out["avoidability_score"] = values.get("avoidability_score")
    return out


def form_values(answer: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stored training answer (a row of ``Session.calibration_answers``) as the form's review
    columns; ``None``: an empty answer."""
    values: dict[str, Any] = {c: None for c in registry().column_names()}
    if answer is None:
        return values
    comments = dict(answer.get("comments") or {})
    problems = dict(answer.get("problems") or {})
    for phase in domain.PHASES:
        values[domain.score_column(phase)] = answer.get(domain.score_column(phase))
        values[domain.comment_column(phase)] = comments.get(phase)
    for kind, harm in problems.items():
        values[domain.problem_column(kind)] = harm
    # the answer keeps the problems themselves; "were there any?" follows from them once final
    values["any_problems"] = ("yes" if problems else
                              "no" if answer.get("status") == "submitted" else None)
    values["avoidability_score"] = answer.get("avoidability_score")
    values[FORM_VERSION_COLUMN] = answer.get("form_version")
    return values


class TrainingForm(ReviewForm):
    """The entry form scoring one fictional case of a calibration round at a time.

    Parameters
    ----------
    session
        The reviewer's governed session.
    themes
        ``(theme id, label)`` of the codebook the panel's reference themes come from.
    today
        The date the round's window is checked against (tests pass a fixed one).
    on_saved
        Called with ``submitted`` after every save (the calibration page shows the panel's
        reference and the results then).

    Attributes
    ----------
    round, case
        The round (a row of ``Session.calibration_rounds``) and the
        :class:`~data_access.training.TrainingCase` in the form (``None`` before
        :meth:`open_case`).
    theme_boxes : dict[str, ipywidgets.Checkbox]
        One tick per theme (CSS class ``f-training-theme-<id>``).
    """

    def __init__(self, session: Any, *, themes: Sequence[tuple[str, str]],
                 today: dt.date | None = None,
                 on_saved: Callable[[bool], None] | None = None) -> None:
        self.round: Any = None
        self.case: Any = None
        self.on_saved = on_saved
        self._theme_choices = list(themes)
        self._asked = training_columns()
        super().__init__(session, today=today, save_to=self._save_answer, coding=False)

    # ----------------------------------------------------------------------------- building
    def _build(self) -> None:
        super()._build()
        self.mark = w.HTML(
            f"<div class='sjr-training-mark'><b>{html.escape(TRAINING_MARK)}</b><br>A "
            "fictional case of a calibration round. Your answer is a training answer: kept "
            "apart from reviews, never counted in any Learning from Deaths figure, and "
            "compared with the panel's reference answers once you submit it.</div>")
        self.mark.add_class("sjr-training")
        self.case_box = w.HTML()
        self.case_box.add_class("sjr-case")
        self.theme_boxes: dict[str, w.Checkbox] = {}
        for theme_id, label in self._theme_choices:
            box = w.Checkbox(value=False, description=label, indent=False,
                             layout=w.Layout(width="26em"))
            box.add_class(f"f-training-theme-{theme_id}")
            self.theme_boxes[theme_id] = box
        themes = ui.section(
            "Themes", w.Box(list(self.theme_boxes.values()),
                            layout=w.Layout(flex_flow="row wrap", max_width="54em")),
            hint="What this case teaches: tick each theme of the codebook that applies to the "
                 "case as a whole.")
        themes.add_class("sjr-training-themes")
        self.submit_button.description = "Submit training answer"
        self.submit_button.tooltip = "Check everything and submit: a submitted answer is final"
        # the entry form's own widgets, without its toolbar (one case at a time, chosen by the
        # page), the case details (the fictional summary instead) or locking (a lead's, of
        # reviews)
        save = ui.section("Save", self.summary,
                          w.HBox([self.save_button, self.submit_button]), self.outcome)
        self.widget.children = (ui.style(), w.HTML(_CSS), self.mark, self.header,
                                ui.section("The case (fictional)", self.case_box),
                                self.banner, *(self.sections[s] for s in TRAINING_SECTIONS),
                                themes, save)
        self.widget.add_class("sjr-training-entry")

    def _submitted(self) -> bool:
        """A submitted training answer is final: it is never changed (no *Save changes*)."""
        return False

    def _refresh_lists(self) -> None:
        """No drafts list or second-stage queue: those are reviews, not training answers."""

    def _update_header(self) -> None:
        s = self.session
        if self.case is None:
            what = "No case chosen"
        else:
            what = f"Case {html.escape(self.case.case_id)}: {html.escape(self.case.title)}"
        round_name = "" if self.round is None else f" · {html.escape(str(self.round.name))}"
        status = "submitted (final)" if self.status == "submitted" else "draft"
        self.header.value = (
            "<h2 style='margin:4px 0'>Structured judgement review: training</h2>"
            f"<div class='sjr-hint'>Signed in as <b>{html.escape(str(s.user))}</b> "
            f"({html.escape(str(s.role).replace('_', ' '))})</div>"
            f"<div class='sjr-state'><b>{what}</b>{round_name} · training answer, {status} · "
            f"{html.escape(domain.label(FORM_VERSION_COLUMN, self.form_version))}</div>")

    # ----------------------------------------------------------------------------- a case
    def open_case(self, round_: Any, case: Any, stored: Mapping[str, Any] | None) -> None:
        """Show ``case`` of ``round_`` with the reviewer's stored answer (a draft to carry on,
        a submitted one read-only), or empty."""
        self.round, self.case = round_, case
        self.case_box.value = (f"<div class='sjr-case-summary'>{html.escape(case.summary)}"
                               "</div>")
        for widget in self._inputs():
            widget.disabled = False
        values = form_values(stored)
        values["organisation_code"] = next(iter(self.session.organisation_codes or ()), None)
        values["review_date"] = self.today
        for theme_id, box in self.theme_boxes.items():
            box.value = stored is not None and theme_id in tuple(stored.get("themes") or ())
        self._fill(values, review_id=None if stored is None else str(stored["answer_id"]),
                   version=None, status=str(stored["status"]) if stored is not None else "draft",
                   stage="first", second_review_of=None)
        self.link_box.value = ""
        if self.status == "submitted":
            self._freeze()
            self._say("ok", "You submitted this answer: it is shown as you gave it, beside the "
                      "panel's reference answers.")
        elif not self.window_open():
            self._say("warn", f"This round is open from {self.round.opens_on:%d %b %Y} to "
                      f"{self.round.closes_on:%d %b %Y}: answers are saved only then.")
        else:
            self._say(None, "")
        self._show({}, checked=False)

    def window_open(self) -> bool:
        """Whether today is inside the round's window (the session checks again on saving)."""
        return self.round is not None and self.round.opens_on <= self.today <= self.round.closes_on

    def _inputs(self) -> list[w.Widget]:
        fields = [f.widget for c, f in self.fields.items() if c in self._asked]
        return [*fields, *self._na.values(), *self.problem_present.values(),
                *self.theme_boxes.values()]

    def _freeze(self) -> None:
        for widget in self._inputs():
            widget.disabled = True

    # ----------------------------------------------------------------------------- checking
    def errors(self, *, status: str | None = "submitted") -> dict[str, list[str]]:
        """The entry form's errors on the questions training asks (the case details are the
        fictional summary, not asked)."""
        return {c: m for c, m in super().errors(status=status).items()
                if c.split("#")[0] in self._asked}

    def _show(self, errors: dict[str, list[str]], *, checked: bool = True) -> None:
        super()._show(errors, checked=checked)
        self.summary.value = self.summary.value.replace("the review can be submitted",
                                                        "the training answer can be submitted")
        if self.status == "submitted":
            self.summary.value = ("<span class='sjr-hint'>Submitted: a training answer is final."
                                  "</span>")
        if self.status == "submitted" or not self.window_open():
            self.save_button.disabled = self.submit_button.disabled = True

    # ----------------------------------------------------------------------------- saving
    def themes_chosen(self) -> list[str]:
        return [t for t, box in self.theme_boxes.items() if box.value]

    def _save_answer(self, values: dict[str, Any], *, expected_version: int | None
                     ) -> tuple[str, int]:
        """The form's save target: a training answer through the governed session."""
        answer_id = self.session.save_calibration_answer(
            str(self.round.round_id), self.case.case_id,
            answer_values(values, self.themes_chosen()))
        return answer_id, 1  # an answer has no versions: a submitted one is final

    def save(self, *, submit: bool) -> bool:
        """Save the training answer (a draft, or submitted and final); say what happened."""
        from data_access.training import TrainingDataError

        if self.case is None:
            return False
        if not self.window_open():
            self._say("error", f"<b>Not saved.</b> Round {html.escape(str(self.round.name))} "
                      f"is open from {self.round.opens_on:%d %b %Y} to "
                      f"{self.round.closes_on:%d %b %Y}.", at_buttons=True)
            return False
        try:
            saved = super().save(submit=submit)
        except TrainingDataError as exc:
            lines = "<br>".join(html.escape(line) for line in str(exc).splitlines())
            self._say("error", f"<b>Not saved.</b> {lines}", at_buttons=True)
            return False
        if not saved:
            return False
        when = dt.datetime.now().strftime("%H:%M")
        if submit:
            self._freeze()
            self._show({})
            self._say("ok", f"<b>Training answer to {html.escape(self.case.case_id)} "
                      f"submitted</b> at {when}. The panel's reference answers and your "
                      "results are shown below.", at_buttons=True)
        else:
            self._say("ok", f"<b>Draft training answer saved</b> at {when}. You can come back "
                      "to it until the round closes.", at_buttons=True)
        if self.on_saved is not None:
            self.on_saved(submit)
        return True
