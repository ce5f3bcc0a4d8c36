"""The review entry form: the SJR form as ipywidgets, for the signed-in reviewer.

The form is a plain object that can be driven without a browser (tests set widget values and
press buttons), and :func:`review_entry` wraps it for the Voila notebook
``notebooks/review_entry.ipynb``. The data path is one way::

    widgets -> ReviewForm.values() -> sjrlib.schema.review_errors -> errors beside each field
                                   -> session.save_review(values, expected_version=...)

Every question, its widget, label, hint, section and order come from the field registry
(:mod:`sjrlib.form.registry`); the form adds only what a form needs (the workflow, the layout of
child rows, the wording of a few rules for someone filling it in). A review is entered on a form
version: a new review on :data:`~sjrlib.form.registry.LATEST_VERSION` (``ext2026``), a saved
review on its own (an ``rcp2017`` review shows no question added since and saves as
``rcp2017``). Questions asked only when another answer allows (the Clinical Frailty Scale at 65
and over, the medical examiner's concern after scrutiny) show only then; answers that fit only
some organisations (the coroner in England, the Procurator Fiscal in Scotland, LeDeR with a
learning disability or autism) are offered only there.

Validation uses the same rules as imports (``sjrlib.schema``); identifiers typed into free text
are found by ``sjrlib.privacy`` and shown highlighted beside the text, and they block saving.
Every save goes through the governed session (``data_access``), which audits it; one save is one
call, so a review the rules refuse is not stored at all.

Organisation leads and second-stage reviewers also code the review with themes (issue 13):
suggestions from the judgements to accept or reject, or a theme from the codebook added by hand,
stored through ``Session.code_review`` once the review is submitted.

The workflow (``shared/spec/sjr-review.md``; drafts are left out of every published figure): a
new review or a draft has *Save draft* and *Submit review*; a submitted review has *Save
changes*, which keeps it submitted (checked as a submission), and *Return to draft…*, which
says what that means and asks first (the session refuses a submitted review saved as a draft
unless told ``withdraw=True``, and audits it); a locked review opens read-only with a notice.
The outcome of a save, submit or lock is said beside the buttons as well as at the top, and the
counter above them names the fields still to complete or correct.

Another save target (e.g. a calibration exercise storing training answers instead of reviews):
``ReviewForm(session, save_to=fn)`` with ``fn(values, *, expected_version) -> (id, version)``,
called instead of ``session.save_review`` with the same values dict (the same validation runs
first); raise ``sjrlib.schema.ValidationFailed`` to show errors beside fields, ``AccessDenied`` to
refuse. Theme coding is off with ``coding=False``. The calibration exercise does this:
:class:`sjrlib.dashboards.entry_training.TrainingForm` is this form in training mode.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

import ipywidgets as w

from data_access import AccessDenied
from sjrlib import domain
from sjrlib.dashboards import _widgets as ui
from sjrlib.dashboards.entry_coding import ThemeCoding
from sjrlib.dashboards.leave_guard import LeaveGuard
from sjrlib.form.registry import (
    BASE_VERSION,
    FORM_VERSION_COLUMN,
    LATEST_VERSION,
    NATION,
    SECTIONS,
    ChildRows,
    Field,
    Kind,
    When,
    answer_list,
    registry,
)
from sjrlib.privacy import KINDS, find_identifiers
from sjrlib.rules import RuleId, accepted_death_weekdays, uk_today

__all__ = ["ReviewForm", "review_entry", "typed_text_columns"]

SaveTarget = Callable[..., tuple[str, int]]

_WORKFLOW = registry().workflow_columns()
"""Columns the workflow fills in (the form, the queue, the save), never typed as answers (the
registry's ``workflow``); the form version is chosen in the toolbar of a new review."""

_CARRIED_SECTIONS = ("case", "screening", "reasons")
"""Sections that describe the case (not the judgement): carried over to a second stage."""

_SECTION_HINTS = {
    "case": "Only the minimised details of the RCP form: no name, NHS or CHI number, date of "
            "birth or full postcode.",
    "phases": "Tick 'Not applicable' for a phase that did not happen. A scored phase needs an "
              "explicit judgement: what was good or poor, and why.",
    "problems": "Tick each type of problem that occurred and say whether it led to harm.",
    "referrals": "One row per process the case was referred on to (or considered for). The "
                 "reference is optional: an external reference number, never a patient "
                 "identifier.",
}

_PHASE_HINTS = {
    "admission": "approximately the first 24 hours",
    "end_of_life": "or discharge care",
    "overall": "always required",
}

_LONG_LABEL = 34
"""A section with a question longer than this (characters) gets the wide label column."""


def typed_text_columns(version: str) -> tuple[str, ...]:
    """What a person types into the form of ``version`` and the form screens for identifiers as
    it is typed: the registry's screened columns but the references the workflow fills in."""
    return tuple(c for c in registry().screened_columns(version)
                 if c not in _WORKFLOW and c != "reviewer_id")


def _holds(when: When, answers: Mapping[str, Any]) -> bool:
    """Whether a registry condition holds for the answers given so far (any of its columns)."""
    for column in when.columns:
        value = answers.get(column)
        if value is None:
            continue
        if when.is_in and str(value) in when.is_in:
            return True
        if when.at_least is not None and isinstance(value, int) and value >= when.at_least:
            return True
    return False


def nation_of(session: Any, organisation_code: str | None) -> str | None:
    """The nation of one of the session's organisations, as the store records it."""
    if organisation_code is None:
        return None
    frame = session.organisations()
    found = frame.loc[frame["organisation_code"] == organisation_code, "nation"]
    return None if found.empty else str(found.iloc[0]).lower()


class ReviewForm(ThemeCoding):
    """The SJR review entry form bound to one governed session.

    Parameters
    ----------
    session
        An open ``data_access`` session (``open_session()``); it decides who the user is, which
        organisations they may enter reviews for, and audits every save.
    today
        The date used as the default review date (tests pass a fixed one).
    save_to
        Where saves go instead of ``session.save_review`` (see the module docstring).
    coding
        Offer theme coding to leads and second-stage reviewers (default ``True``).

    Attributes
    ----------
    fields : dict[str, ui.Field]
        One entry per review column the reviewer fills in, keyed by column name.
    widget : ipywidgets.VBox
        The whole form, to display.
    review_id, version, form_version
        The review being edited (``None`` for a new one), the version it was loaded or last
        saved at (sent with every save so a concurrent change is detected), and the form
        version it is entered on.
    """

    def __init__(self, session: Any, *, today: dt.date | None = None,
                 save_to: SaveTarget | None = None, coding: bool = True) -> None:
        self.session = session
        self.today = today or uk_today()  # the date in the UK, not the server's
        self.save_to = save_to
        self.registry = registry()
        self.review_id: str | None = None
        self.version: int | None = None
        self.status: str = "draft"
        self.stage: str = "first"
        self.form_version: str = LATEST_VERSION
        self.second_review_of: str | None = None
        self.touched: set[str] = set()
        self.show_all_errors = False
        self.last_errors: dict[str, list[str]] = {}
        self.identifiers: dict[str, list[Any]] = {}
        self._loading = False
        # the browser asks before the page is left while typing is unsaved (here or put aside)
        self.leave_guard = LeaveGuard(layout=w.Layout(display="none"))
        self._dirty = False  # typed since the form was filled or last saved
        self._aside: list[dict[str, Any]] = []  # unsaved forms put aside (see _fill)
        self._held = 0
        self._banner_until_fixed = False
        self._lead = session.role == "organisation_lead"
        self._coding = coding
        self._new_id: str | None = None
        self._first: dict[str, Any] | None = None
        self._pending: list[tuple[str, str | None, bool]] = []
        self.themes: ui.ThemeChooser | None = None
        self._suggested_for: tuple[tuple[str, str], ...] | None = None
        self._others_coded = 0
        self._nations: dict[str, str | None] = {}
        self.fields: dict[str, ui.Field] = {}
        self.referrals: dict[str, tuple[ChildRows, ui.RowsEditor]] = {}
        self.sections: dict[str, w.VBox] = {}
        self._questions: dict[str, list[Any]] = {}
        self._id_boxes: dict[str, w.HTML] = {}
        self._na: dict[str, w.Checkbox] = {}
        self._build()
        self._refresh_lists()
        self.new_review()

    # ----------------------------------------------------------------------------- building
    def _add(self, fld: ui.Field) -> ui.Field:
        self.fields[fld.column] = fld
        fld.widget.observe(lambda change, c=fld.column: self._changed(c), names="value")
        return fld

    def _build(self) -> None:
        self.header = w.HTML()
        self.banner = w.HTML()
        self.banner.add_class("sjr-banner")
        self.link_box = w.HTML()
        self.link_box.add_class("sjr-link")

        # -- toolbar: new, open own review, second-stage queue
        self.new_button = ui.button("New review", "b-new", tooltip="Start an empty review")
        self.new_button.on_click(lambda _: (self._refresh_lists(), self.new_review()))
        self.drafts_select = ui.dropdown([("— my drafts —", None)], width="24em")
        self.drafts_select.add_class("f-drafts")
        ui.label_input(self.drafts_select, "Continue a draft")
        self.drafts_select.observe(lambda change: self._open_draft(), names="value")
        self.open_id = ui.text("review id, e.g. XA2-SJR000912", width="16em")
        self.open_id.add_class("f-open-id")
        ui.label_input(self.open_id, "Id of the review to open")
        self.open_button = ui.button("Open review", "b-open",
                                     tooltip="Open the review with this id")
        self.open_button.on_click(lambda _: self._open_by_id())
        self.queue_select = ui.dropdown([("— second-stage queue —", None)], width="36em")
        self.queue_select.add_class("f-queue")
        ui.label_input(self.queue_select, "Second-stage queue")
        self.queue_button = ui.button("Start second-stage review", "b-queue",
                                      tooltip="Open a second-stage review of the chosen case")
        self.queue_button.on_click(lambda _: self._start_second_stage())

        def caption(text: str) -> w.HTML:
            label = w.HTML(html.escape(text), layout=w.Layout(width="11em"))
            label.add_class("sjr-label")
            return label

        # -- the form version: chosen for a new review, fixed once a review is saved
        versions = answer_list(FORM_VERSION_COLUMN)
        self.version_select = ui.dropdown([(a.label, a.id) for a in versions.answers],
                                          width="30em")
        self.version_select.add_class(f"f-{FORM_VERSION_COLUMN}")
        ui.label_input(self.version_select, "Form version")
        self.version_select.value = LATEST_VERSION
        self.version_select.observe(lambda change: self._version_chosen(), names="value")
        self.version_note = w.HTML()
        self.version_note.add_class("sjr-hint")

        # unsaved work the reviewer left by opening another review or starting a new one
        self.aside_text = w.HTML()
        self.aside_restore = ui.button("Bring it back", "b-aside-restore",
                                       tooltip="Put the unsaved review back in the form")
        self.aside_discard = ui.button("Discard it", "b-aside-discard",
                                       tooltip="Forget the unsaved review put aside")
        self.aside_restore.on_click(lambda _: self.restore_aside())
        self.aside_discard.on_click(lambda _: self.discard_aside())
        self.aside_box = w.HBox([self.aside_text, self.aside_restore, self.aside_discard],
                                layout=w.Layout(align_items="center", display="none"))
        self.aside_box.add_class("sjr-aside")

        toolbar = w.VBox([
            w.HBox([caption("Start"), self.new_button]),
            w.HBox([caption("Continue a draft"), self.drafts_select]),
            w.HBox([caption("Open a saved review"), self.open_id, self.open_button]),
            w.HBox([caption("Second-stage queue"), self.queue_select, self.queue_button]),
            w.HBox([caption("Form version"), self.version_select, self.version_note],
                   layout=w.Layout(align_items="center")),
        ], layout=w.Layout(margin="4px 0"))

        # -- the questions, section by section, in the registry's order
        body = []
        for section in SECTIONS:
            questions = [q for q in self.registry.fields()
                         if q.section == section.id and q.id not in _WORKFLOW]
            if not questions:
                continue
            self._questions[section.id] = questions
            box = ui.section(section.label, *self._rows(section.id, questions),
                             hint=_SECTION_HINTS.get(section.id, ""))
            self.sections[section.id] = box
            body.append(box)

        # -- actions
        self.save_button = ui.button("Save draft", "b-save",
                                     tooltip="Save without submitting; you can come back to it")
        self.submit_button = ui.button("Submit review", "b-submit", style="primary",
                                       tooltip="Check everything and submit the review")
        self.lock_button = ui.button("Lock review", "b-lock", style="warning",
                                     tooltip="Organisation lead: lock the submitted review")
        self.reload_button = ui.button("Reload latest version", "b-reload",
                                       tooltip="Discard your changes and load the saved version")
        # a submitted review: Save changes keeps it submitted; back to draft only when asked
        self.withdraw_button = ui.button(
            "Return to draft…", "b-withdraw",
            tooltip="Take the submitted review back to draft (asks first): a draft is left out "
                    "of every published figure until it is submitted again")
        self.save_button.on_click(lambda _: self._save_clicked())
        self.submit_button.on_click(lambda _: self._submit_clicked())
        self.lock_button.on_click(lambda _: self.lock())
        self.reload_button.on_click(lambda _: self.reload())
        self.withdraw_button.on_click(lambda _: self.ask_withdraw())
        self.reload_button.layout.display = "none"
        self.withdraw_button.layout.display = "none"
        self.lock_button.layout.display = "" if self._may("lock_review") else "none"
        self.withdraw_text = w.HTML()
        self.withdraw_confirm = ui.button("Return to draft", "b-withdraw-confirm",
                                          style="danger",
                                          tooltip="Save the review as a draft: it leaves the "
                                                  "published figures until submitted again")
        self.withdraw_cancel = ui.button("Keep it submitted", "b-withdraw-cancel",
                                         tooltip="Do not change the review's status")
        self.withdraw_confirm.on_click(lambda _: self.withdraw())
        self.withdraw_cancel.on_click(lambda _: self._hide_withdraw())
        self.withdraw_box = w.VBox([self.withdraw_text,
                                    w.HBox([self.withdraw_confirm, self.withdraw_cancel],
                                           layout=w.Layout(margin="4px 0"))])
        self.withdraw_box.add_class("sjr-withdraw")
        self.withdraw_box.layout.display = "none"
        self.summary = w.HTML()
        self.summary.add_class("sjr-summary")
        self.outcome = w.HTML()  # what the last save, submit or lock did, beside the buttons
        self.outcome.add_class("sjr-outcome")
        actions = w.VBox([
            self.summary,
            w.HBox([self.save_button, self.submit_button, self.withdraw_button,
                    self.lock_button, self.reload_button]),
            self.withdraw_box,
            self.outcome,
        ])
        self.lock_notice = w.HTML()
        self.lock_notice.add_class("sjr-locked")

        self.widget = w.VBox([
            ui.style(),
            self.leave_guard,
            self.header,
            toolbar,
            self.aside_box,
            self.link_box,
            self.lock_notice,
            self.banner,
            *body,
            *self._themes_section(),
            ui.section("Save", actions),
        ])
        self.widget.add_class("sjr-app")
        self.widget.add_class("sjr-entry")

    def _rows(self, section: str, questions: list[Any]) -> list[w.Widget]:
        """The rows of one section: a widget per question, child rows laid out by their shape."""
        long = any(isinstance(q, Field) and len(q.label) > _LONG_LABEL for q in questions)
        width = "26em" if long else ui.LABEL_WIDTH
        rows: list[w.Widget] = []
        for q in questions:
            if isinstance(q, ChildRows):
                if q.companion is None:  # ticked per type, with one answer (problems)
                    rows.extend(self._ticked(q))
                elif q.companion.kind is Kind.FREE_TEXT:  # every type judged (phases)
                    rows.extend(self._phase(q, p) for p in q.types.ids)
                else:  # several rows of type, answer and reference (referrals)
                    rows.append(self._rows_editor(q))
                continue
            if q.kind is Kind.MULTI_CHOICE:
                rows.extend(self._choices(q))
                continue
            fld = self._add(self._field(q, width))
            rows.append(fld.row)
            if q.id in typed_text_columns(LATEST_VERSION):
                rows.append(self._identifier_box(q.id))
        return rows

    def _field(self, q: Field, width: str) -> ui.Field:
        column = self.registry.column(q.id)
        if q.id == "organisation_code":  # the organisations this user may enter reviews for
            orgs = list(self.session.organisation_codes or [])
            options = [(code, code) for code in orgs] or [("— none —", None)]
            return ui.Field(q.id, ui.dropdown(options), q.label, label_width=width)
        fld = ui.field_for(column, label_width=width)
        if q.id == "reviewer_id" and not self._lead:
            fld.row.layout.display = "none"  # a reviewer always saves under their own id
        return fld

    def _choices(self, q: Field) -> list[w.Widget]:
        """One checkbox per answer of a multi-choice question, one error label for the group."""
        boxes = {}
        for answer_id, text in q.answers.labels().items():
            box = w.Checkbox(value=False, description=text, indent=False,
                             layout=w.Layout(width="auto"))
            box.add_class(f"f-reason-{answer_id}")
            box.observe(lambda change, c=q.id: self._changed(c), names="value")
            boxes[answer_id] = box
        self.reason_boxes = boxes
        fld = ui.Field(q.id, w.VBox(list(boxes.values())), q.label,
                       read=lambda _: self._read_reasons(), write=lambda v: v)
        fld.widget.remove_class(f"f-{q.id}")
        fld.error.layout = w.Layout(margin="0")  # under the boxes, not a flex row
        self.fields[q.id] = fld
        return [w.HTML(f"<b>{html.escape(q.label)}</b>"), fld.widget, fld.error]

    def _ticked(self, q: ChildRows) -> list[w.Widget]:
        """A tick per type, and its answer once ticked (problems in care and their harm)."""
        self.problem_present: dict[str, w.Checkbox] = {}
        options = ui.choice_options(q.value.answers.labels(), blank="— did it lead to harm? —")
        rows = []
        for ptype, text in q.types.labels().items():
            present = w.Checkbox(value=False, description="", indent=False,
                                 layout=w.Layout(width="2em"))
            present.add_class(f"f-present-{ptype}")
            ui.label_input(present, f"{text}: occurred")
            present.observe(lambda change, t=ptype: self._present_changed(t), names="value")
            self.problem_present[ptype] = present
            column = q.value_column(ptype)
            label = w.HTML(html.escape(text), layout=w.Layout(width="30em"))
            label.add_class("sjr-label")
            fld = ui.Field(column, ui.dropdown(options, width="16em"), text,
                           row=w.HBox(layout=w.Layout(align_items="flex-start",
                                                      flex_flow="row wrap", margin="2px 0")),
                           read=lambda v, t=ptype: self._read_problem(t, v))
            fld.row.children = (present, label, fld.widget, fld.error)
            self._add(fld)
            rows.append(fld.row)
        return rows

    def _rows_editor(self, q: ChildRows) -> w.Widget:
        """Referrals on: rows of type, status and reference."""
        assert q.companion is not None
        editor = ui.RowsEditor(
            q.id, types=q.types.labels(), answers=q.value.answers.labels(),
            type_label="Referred to", answer_label=q.value.label,
            companion_label=q.companion.label, companion_hint="optional reference",
            add_label="Add a referral", on_change=lambda c=q.id: self._changed(c))
        self.referrals[q.id] = (q, editor)
        return editor.widget

    def _identifier_box(self, column: str) -> w.HTML:
        box = w.HTML()
        box.add_class(f"i-{column}")
        box.add_class("sjr-identifiers")
        self._id_boxes[column] = box
        return box

    def _phase(self, q: ChildRows, phase: str) -> w.VBox:
        assert q.companion is not None
        title = q.types.labels()[phase]
        hint = _PHASE_HINTS.get(phase, "")
        head = f"<b>{html.escape(title)}</b>"
        if hint:
            head += f" <span class='sjr-hint'>({html.escape(hint)})</span>"
        na = w.Checkbox(value=False, description="Not applicable", indent=False,
                        layout=w.Layout(width="auto"))
        na.add_class(f"f-na-{phase}")
        if phase == "overall":
            na.layout.display = "none"
        na.observe(lambda change, p=phase: self._na_changed(p), names="value")
        self._na[phase] = na
        score = self._add(ui.Field(
            q.value_column(phase),
            ui.dropdown(ui.choice_options(q.value.answers.labels(), numbered=True),
                        width="16em"),
            q.value.label))
        comment = self._add(ui.Field(
            q.companion_column(phase),
            w.Textarea(placeholder="Explicit judgement: what was good or poor about the care "
                                   "in this phase, and why",
                       continuous_update=False,
                       layout=w.Layout(width="40em", height="5em")),
            q.companion.label, read=ui.read_text, write=ui.write_text))
        ui.label_input(score.widget, f"{title}: {q.value.label}")
        ui.label_input(comment.widget, f"{title}: {q.companion.label}")
        box = w.VBox([w.HBox([w.HTML(head, layout=w.Layout(flex="1 1 auto")), na]),
                      score.row, comment.row,
                      self._identifier_box(q.companion_column(phase))])
        box.add_class("sjr-phase")
        box.add_class(f"p-{phase}")
        return box

    # ----------------------------------------------------------------------------- reading
    def _read_reasons(self) -> str | None:
        chosen = [rid for rid, box in self.reason_boxes.items() if box.value]
        return domain.REASON_SEPARATOR.join(chosen) or None

    def _read_problem(self, ptype: str, harm: str | None) -> str | None:
        return harm if self.problem_present[ptype].value else None

    def _answers_so_far(self) -> dict[str, Any]:
        """Every field's value as it stands (all versions) and the organisation's nation: what
        the registry's conditions read."""
        answers = {column: fld.value for column, fld in self.fields.items()}
        answers[NATION] = self._nation(answers.get("organisation_code"))
        return answers

    def _nation(self, organisation_code: str | None) -> str | None:
        if organisation_code not in self._nations:
            self._nations[organisation_code] = nation_of(self.session, organisation_code)
        return self._nations[organisation_code]

    def _apply_questions(self) -> None:
        """Show the questions of the review's form version whose conditions hold, hide the
        others (and sections left empty), and offer only the answers that fit (by nation,
        learning disability or autism)."""
        answers = self._answers_so_far()
        version = self.form_version
        self._loading = True  # new options are not something the user typed
        try:
            for section, questions in self._questions.items():
                asked = [q for q in questions if q.asked_in(version)]
                self.sections[section].layout.display = "" if asked else "none"
                for q in questions:
                    if q.id in self.referrals:
                        editor = self.referrals[q.id][1]
                        editor.widget.layout.display = "" if q.asked_in(version) else "none"
                        editor.offer_types([a.id for a in q.types.answers
                                            if a.only_when is None
                                            or _holds(a.only_when, answers)])
                    elif isinstance(q, Field) and q.id in self.fields:
                        shown = q.asked_in(version) and (
                            q.only_when is None or _holds(q.only_when, answers))
                        if q.id == "reviewer_id" and not self._lead:
                            shown = False
                        self.fields[q.id].row.layout.display = "" if shown else "none"
                        if q.answers is not None and q.kind is Kind.ANSWERS:
                            self._offer_answers(q, answers)
        finally:
            self._loading = False

    def _offer_answers(self, q: Field, answers: Mapping[str, Any]) -> None:
        """A dropdown's answers narrowed by their conditions; the chosen one stays."""
        widget = self.fields[q.id].widget
        current = widget.value
        allowed = {a.id: a.label for a in q.answers.answers
                   if a.only_when is None or _holds(a.only_when, answers) or a.id == current}
        options = ui.choice_options(allowed)
        if list(widget.options) != options:
            widget.options = options
            ui.set_value(widget, current)

    def values(self) -> dict[str, Any]:
        """The review as a values dict (review columns -> Python values), as typed so far.

        ``reviewer_id`` is ``None`` for a new review by a reviewer: the session fills in the
        signed-in reviewer's own id when saving.
        """
        version = self.form_version
        answers = self._answers_so_far()
        values: dict[str, Any] = {c: None for c in self.registry.column_names(version)}
        for column in values.keys() & self.fields.keys():
            values[column] = answers[column]
        for q in self.registry.fields(version):  # a question not shown is not answered
            if isinstance(q, Field) and q.only_when is not None \
                    and not _holds(q.only_when, answers):
                values[q.id] = None
        for phase, na in self._na.items():
            if na.value:
                values[domain.score_column(phase)] = None
                values[domain.comment_column(phase)] = None
        for q, editor in self.referrals.values():
            if not q.asked_in(version):
                continue
            for type_id, answer, reference in editor.entries():
                # one row per type: a type listed twice is the form's error, the first counts
                if type_id in q.types.ids and values[q.value_column(type_id)] is None:
                    values[q.value_column(type_id)] = answer
                    values[q.companion_column(type_id)] = reference
        values[FORM_VERSION_COLUMN] = version
        values.update(
            review_id=self.review_id or self._new_id,
            review_stage=self.stage,
            second_review_of=self.second_review_of,
            status=self.status,
            avoidability_scale="rcp" if values["avoidability_score"] is not None else None,
        )
        return values

    # ----------------------------------------------------------------------------- checking
    def errors(self, *, status: str | None = "submitted") -> dict[str, list[str]]:
        """Every problem with the form as it stands, by column: the schema's rules (the same as
        imports) plus what only the form can know (a problem ticked without its harm answer,
        identifiers in free text, which the form finds as they are typed).

        Checked as for submission by default, so the form shows what is still needed; *Save
        draft* stores an incomplete review all the same (the session spares drafts only the
        completeness rules, ``sjrlib.schema.DRAFT_MAY_BE_INCOMPLETE``)."""
        from sjrlib.schema import review_errors

        values = self.values()
        if status is not None:
            values["status"] = status
        if values["reviewer_id"] is None and not self._lead:
            values["reviewer_id"] = "(you)"  # the session fills in the reviewer's own id
        context: dict[str, Any] = {}
        if self.session.organisation_codes is not None:
            context["known_organisations"] = list(self.session.organisation_codes)
        if self.second_review_of and self._first is not None:
            context["known_reviews"] = {
                self.second_review_of: (self._first.get("case_id"), "first")}
        return self._combine(review_errors(values, **context))

    def _weekday_words(self) -> str | None:
        """The rule that the day of death is the day of admission plus the days from arrival
        to death (:func:`sjrlib.rules.accepted_death_weekdays`), in the form's words (the days
        by their labels); None if the fields no longer hold the values the rule read."""
        try:
            days = int(str(self.fields["days_to_death"].value).strip())
            accepted = accepted_death_weekdays(
                self.fields["admission_weekday"].value, days,
                *(self._hour(c) for c in ("arrival_hour", "death_hour")))
            admitted, died, *names = [domain.label("weekday", d) for d in (
                self.fields["admission_weekday"].value, self.fields["death_weekday"].value,
                *accepted)]
        except (TypeError, ValueError, KeyError):
            return None
        if not names:  # a negative count: the range rule's to say
            return None
        also = (f" (or a {names[1]}, if the days are whole 24-hour periods and death came "
                "after midnight)" if len(names) > 1 else "")
        return (f"A {admitted} plus {days} day{'s' * (days != 1)} from arrival to death is a "
                f"{names[0]}{also}, not a {died}: correct the day of death, the day of "
                "admission or the days from arrival to death")

    def _hour(self, column: str) -> int | None:
        fld = self.fields.get(column)
        try:
            return int(str(fld.value).strip()) if fld is not None else None
        except (TypeError, ValueError):
            return None

    def _combine(self, schema_errors: Iterable[Any]) -> dict[str, list[str]]:
        """The schema's errors in the form's words, by column, with the form's own checks."""
        found: dict[str, list[str]] = {}
        death_month = self._death_month()
        future = death_month is not None and death_month > self.today.replace(day=1)
        if future:
            found["death_month"] = [
                f"A month of death cannot be in the future (this month is "
                f"{self.today:%Y-%m})"]
        for error in schema_errors:
            if getattr(error, "rule", None) == RuleId.REVIEW_DATE_NOT_BEFORE_DEATH \
                    and death_month is not None:
                # the death month is as likely to be wrong as the review date: say so beside
                # both (and only beside the month when the month is in the future)
                if not future:
                    review_date = self.fields["review_date"].value
                    said = (f" ({review_date:%d %b %Y})" if isinstance(review_date, dt.date)
                            else "")
                    found.setdefault("death_month", []).append(
                        f"After the date of review{said}: a review follows the death")
                    found.setdefault("review_date", []).append(
                        f"Before the month of death ({death_month:%Y-%m}): a review follows "
                        "the death")
                continue
            if getattr(error, "rule", None) == RuleId.DEATH_WEEKDAY_AFTER_DAYS_TO_DEATH:
                words = self._weekday_words()
                if words is not None:
                    found.setdefault("death_weekday", []).append(words)
                    continue
            for column in _columns_of(error):
                fld = self.fields.get(column)
                label = fld.label if fld else self._label_of(column)
                message = _for_people(error, label)
                if message not in found.setdefault(column, []):
                    found[column].append(message)
        for ptype, present in self.problem_present.items():
            column = domain.problem_column(ptype)
            if present.value and self.fields[column].widget.value is None:
                found[column] = ["Say whether this problem led to harm"]
        for q, editor in self.referrals.values():
            if not q.asked_in(self.form_version):
                continue
            seen: set[str] = set()
            for i, (type_id, answer, reference) in enumerate(editor.entries()):
                key = _row_key(q, i)
                if type_id is None and (answer or reference):
                    found[key] = ["Choose where the case was referred"]
                elif type_id in seen:
                    found[key] = ["Listed twice: one row per type of referral"]
                elif type_id is not None and answer is None:
                    found[key] = [f"Choose the {q.value.label.lower()}"]
                if type_id is not None:
                    seen.add(type_id)
        for column, findings in self.identifiers.items():
            if findings:  # one message, whichever rule (the schema's or the form's) saw it
                found[column] = [_IDENTIFIER_MESSAGE] + [
                    m for m in found.get(column, []) if not m.startswith(_IDENTIFIER_PREFIX)]
        return found

    def _death_month(self) -> dt.date | None:
        """The first day of the month of death as typed, or ``None`` (blank or not a month:
        the rules say what is wrong with it)."""
        typed = self.fields["death_month"].value if "death_month" in self.fields else None
        if not isinstance(typed, str) or not _MONTH.match(typed.strip()):
            return None
        try:
            return dt.date(int(typed.strip()[:4]), int(typed.strip()[5:7]), 1)
        except ValueError:
            return None

    def _name_of(self, key: str) -> str:
        """A field (or a row of a rows editor) as the form names it to a person."""
        question, _, row = key.partition("#")
        if row:
            label = self.referrals[question][0].label if question in self.referrals else question
            return f"{label}, row {int(row) + 1}"
        for phase in domain.PHASES:
            if key in (domain.score_column(phase), domain.comment_column(phase)):
                what = self.fields[key].label if key in self.fields else key
                return f"{domain.label('phase', phase)}: {what.lower()}"
        label = self.fields[key].label if key in self.fields else self._label_of(key)
        if len(label) > 50 and " (" in label:
            label = label.split(" (")[0]
        return label

    def _ordered(self, errors: Mapping[str, list[str]]) -> list[str]:
        """The keys of ``errors`` in the order of the form (top to bottom)."""
        order = {c: i for i, c in enumerate(self.fields)}
        for q, _ in self.referrals.values():
            for t in q.types.ids:
                order.setdefault(q.value_column(t), len(order))

        def rank(key: str) -> tuple[int, str]:
            base = key.partition("#")[0]
            if base in self.referrals:
                q = self.referrals[base][0]
                base = q.value_column(q.types.ids[0])
            return order.get(base, -1), key
        return sorted(errors, key=rank)

    def _listed(self, errors: Mapping[str, list[str]], *, with_messages: bool = False,
                most: int = 6) -> str:
        """HTML naming the fields of ``errors`` in form order (at most ``most``, then how many
        more), each with its first message when ``with_messages``."""
        keys = self._ordered(errors)
        parts = []
        for key in keys[:most]:
            part = f"<b>{html.escape(self._name_of(key))}</b>"
            if with_messages and errors[key]:
                part += f": {html.escape(errors[key][0])}"
            parts.append(part)
        if len(keys) > most:
            parts.append(f"{len(keys) - most} more")
        return "; ".join(parts) if with_messages else ", ".join(parts)

    @contextmanager
    def holding_checks(self) -> Iterator[None]:
        """Set many widgets at once (a script, a test, a paste) and check the form once at the
        end rather than after every value."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                self.refresh()

    def _changed(self, column: str) -> None:
        if self._loading:
            return
        self._dirty = True
        self.touched.add(column)
        if column in self._id_boxes:
            self._screen(column)
        elif column in self.referrals:
            self._screen_rows(column)
        if not self._held:
            self.refresh()

    def _na_changed(self, phase: str) -> None:
        na = self._na[phase].value
        for column in (domain.score_column(phase), domain.comment_column(phase)):
            self.fields[column].widget.disabled = na
        self._changed(domain.score_column(phase))

    def _present_changed(self, ptype: str) -> None:
        self.fields[domain.problem_column(ptype)].widget.disabled = (
            not self.problem_present[ptype].value)
        self._changed(domain.problem_column(ptype))

    def _screen(self, column: str) -> None:
        """Find identifiers in one free-text field and show them highlighted beside it."""
        fld = self.fields[column]
        text = fld.widget.value or ""
        findings = find_identifiers(text) if text else []
        if column.startswith("comment_") and self._na[column.removeprefix("comment_")].value:
            findings = []
        self.identifiers[column] = findings
        self._id_boxes[column].value = _highlight(text, findings)

    def _screen_rows(self, question: str) -> None:
        """Find identifiers in the references of a question's rows (e.g. referrals on)."""
        q, editor = self.referrals[question]
        for key in [k for k in self.identifiers if k.startswith(f"{question}#")]:
            del self.identifiers[key]
        asked = q.asked_in(self.form_version)
        for i, (_, _, reference) in enumerate(editor.entries()):
            findings = find_identifiers(reference) if reference and asked else []
            self.identifiers[_row_key(q, i)] = findings
            editor.show_identifiers(i, _highlight(reference or "", findings))

    def _label_of(self, column: str) -> str:
        try:
            return self.registry.column(column).label
        except KeyError:
            return column

    def refresh(self) -> None:
        """Recompute the errors and show them beside the fields touched so far (all of them
        after a submit was attempted), and the themes suggested by the judgements."""
        self._apply_questions()
        self._show(self.errors())
        self._suggest_themes()

    def _show(self, errors: dict[str, list[str]], *, checked: bool = True) -> None:
        self.last_errors = errors
        if not errors and self._banner_until_fixed:
            self._say(None, "")
        for column, fld in self.fields.items():
            shown = self.show_all_errors or column in self.touched
            fld.show_errors(self.last_errors.get(column, []) if shown else [])
        for q, editor in self.referrals.values():
            shown = self.show_all_errors or q.id in self.touched
            listed: set[str] = set()
            for i, (type_id, _, _) in enumerate(editor.entries()):
                messages = list(self.last_errors.get(_row_key(q, i), []))
                if type_id in q.types.ids and type_id not in listed:  # the rules' errors
                    listed.add(type_id)
                    for column in (q.value_column(type_id), q.companion_column(type_id)):
                        messages += [m for m in self.last_errors.get(column, [])
                                     if m not in messages]
                editor.show_errors(i, messages if shown else [])
        n = len(self.last_errors)
        blocked = any(self.identifiers.values())
        submitted = self._submitted()
        if self.status == "locked":
            self.summary.value = ("<span class='sjr-hint'><b>Locked:</b> this review can no "
                                  "longer be changed; it is shown read-only.</span>")
        elif not checked:
            self.summary.value = ("<span class='sjr-hint'>" + (
                f"Submitted (version {self.version}). <i>Save changes</i> keeps it submitted."
                if submitted else "Each field is checked as you fill it in; problems show "
                "beside it.") + "</span>")
        elif n:
            goal = ("your changes can be saved" if submitted
                    else "the review can be submitted")
            self.summary.value = (
                f"<span class='sjr-hint'>{n} field{'s' if n != 1 else ''} still to complete or "
                f"correct before {goal}: {self._listed(self.last_errors)}.</span>")
        elif submitted:
            self.summary.value = (f"<span class='sjr-hint'>Submitted (version {self.version})."
                                  " <i>Save changes</i> keeps it submitted.</span>")
        else:
            self.summary.value = "<span class='sjr-hint'>Ready to submit.</span>"
        self._arrange_buttons(blocked)

    def _submitted(self) -> bool:
        """Whether the form holds a stored, submitted review (its changes keep it submitted)."""
        return self.review_id is not None and self.status == "submitted"

    def _arrange_buttons(self, blocked: bool) -> None:
        """The buttons for the review's state: *Save draft* and *Submit review* for a new review
        or a draft; *Save changes* (it stays submitted) and *Return to draft…* (asked first)
        for a submitted one; none usable on a locked one."""
        submitted, locked = self._submitted(), self.status == "locked"
        self.save_button.description = "Save changes" if submitted else "Save draft"
        self.save_button.tooltip = (
            "Save your changes; the review stays submitted" if submitted
            else "Save without submitting; you can come back to it")
        self.save_button.button_style = "primary" if submitted else ""
        self.submit_button.layout.display = "none" if submitted or locked else ""
        self.save_button.layout.display = "none" if locked else ""
        self.withdraw_button.layout.display = "" if submitted else "none"
        if not submitted:
            self.withdraw_box.layout.display = "none"
        self.save_button.disabled = blocked or locked
        self.submit_button.disabled = blocked or locked
        self.withdraw_button.disabled = blocked or locked
        self.lock_button.disabled = locked

    # ----------------------------------------------------------------------------- actions
    def _may(self, action: str) -> bool:
        from data_access.roles import may

        return may(self.session.role, action)

    def _save_clicked(self) -> bool:
        """*Save draft* on a new review or a draft; *Save changes* on a submitted review, which
        keeps it submitted (checked as a submission)."""
        return self.save(submit=self._submitted())

    def _submit_clicked(self) -> bool:
        """*Submit review*, shown for a new review or a draft only. A second click of a
        double-click reaches the kernel after the first has submitted the review (the button
        is hidden by then, but the click was already sent): it is ignored, so the reviewer keeps
        the first click's outcome ("submitted", and the second-stage queue notice) instead of
        a second save reported as "changes saved" (the held-out audit of 2026-12-06)."""
        if self._submitted() or self.status == "locked":
            return False
        return self.save(submit=True)

    def ask_withdraw(self) -> None:
        """*Return to draft…*: say what it means and ask first (nothing is saved yet)."""
        if not self._submitted():
            return
        self.withdraw_text.value = ui.banner(
            "warn", f"<b>Return review {html.escape(str(self.review_id))} to draft?</b> A draft "
            "is left out of every published figure (the Learning from Deaths counts and the "
            "reports) until it is submitted again. The form is saved as it stands, and the "
            "change of status is recorded in the audit log.")
        self.withdraw_box.layout.display = ""

    def _hide_withdraw(self) -> None:
        self.withdraw_box.layout.display = "none"
        self.withdraw_text.value = ""

    def withdraw(self) -> bool:
        """Save the submitted review as a draft, deliberately (after :meth:`ask_withdraw`);
        return whether it was saved."""
        self._hide_withdraw()
        return self.save(submit=False, withdraw=True)

    def save(self, *, submit: bool, withdraw: bool = False) -> bool:
        """Save the form as a draft or submit it; return whether it was saved.

        A review with identifiers in its free text is never saved. A submission with any error
        is refused and every error is shown beside its field. A version conflict (someone else
        saved this review since it was loaded) is reported and nothing is overwritten.

        A submitted review stays submitted: ``submit=True`` saves its changes. Saving it as a
        draft takes it out of every published figure, so it is refused unless ``withdraw`` says
        that is meant (*Return to draft…*, which asks first); the session records it.
        """
        from data_access.store import StaleReviewError
        from sjrlib.schema import ValidationFailed

        was_submitted = self._submitted()
        if was_submitted and not submit and not withdraw:
            self._say("error", f"<b>Not saved.</b> Review {html.escape(str(self.review_id))} is "
                      "submitted: saving it as a draft would take it out of every published "
                      "figure until it is submitted again. <i>Save changes</i> keeps it "
                      "submitted; <i>Return to draft…</i> takes it back on purpose.",
                      at_buttons=True)
            return False
        status = "submitted" if submit else "draft"
        if submit:
            self.show_all_errors = True
        # The session validates with the same rules (and the store's context); the form's own
        # checks are cheap, so one save costs one validation.
        # Another save target gets only what the rules accept: the form checks it all here.
        local = self.errors(status=status) if self.save_to else self._combine([])
        if any(self.identifiers.values()):
            self._show(local)
            self._say("error", "<b>Not saved.</b> The free text contains what looks like "
                      "patient identifiers (highlighted beside the text). Remove them, then "
                      "save again.", at_buttons=True)
            return False
        if not self._second_stage_still_open():
            first = html.escape(str(self.second_review_of))
            self._say("error", f"<b>Not saved: first-stage review {first} already has a "
                      "second-stage review</b>, started since this form was opened (perhaps "
                      "by you in another tab or window, or by another reviewer). Nothing was "
                      "saved and your answers are still in the form; copy anything you want "
                      "to keep. A second-stage review you started is in <i>my drafts</i> or "
                      "can be opened by its id.", at_buttons=True)
            self._refresh_lists()
            return False
        values = self.values()
        same = self._same_case_reviewed(values)
        if same is not None:
            rid, its_status = same
            self._say("error", f"<b>Not saved: you already have a first-stage review of case "
                      f"{html.escape(str(values.get('case_id')).strip())}</b> (review "
                      f"{html.escape(rid)}, {html.escape(its_status)}), perhaps saved from "
                      "another tab or window. Nothing was saved and your answers are still in "
                      "the form: open that review (<i>Open a saved review</i> or <i>my "
                      "drafts</i>) to continue it, or correct the case reference.",
                      at_buttons=True)
            return False
        values["status"] = status
        if values["reviewer_id"] is None:
            del values["reviewer_id"]  # the session saves it under the reviewer's own id
        try:
            if local:
                raise ValidationFailed([])
            if self.save_to is not None:
                review_id, version = self.save_to(values, expected_version=self.version)
            else:
                review_id, version = self.session.save_review(
                    values, expected_version=self.version,
                    **({"withdraw": True} if withdraw and was_submitted else {}))
        except StaleReviewError as exc:
            self.reload_button.layout.display = ""
            self._say("error",
                      "<b>Not saved: someone else changed this review since you opened it "
                      "(or you did, in another tab or window).</b> "
                      "Your changes are still in the form and nothing was overwritten. Copy "
                      "anything you want to keep, then press <i>Reload latest version</i> to "
                      f"see their version. <span class='sjr-hint'>({html.escape(str(exc))})"
                      "</span>", at_buttons=True)
            return False
        except AccessDenied as exc:
            self._say("error", f"<b>Not saved.</b> {html.escape(str(exc))}", at_buttons=True)
            return False
        except ValidationFailed as exc:
            errors = (self._combine(exc.errors) if exc.errors
                      else self.errors(status=status) if self.save_to is None else local)
            self.show_all_errors = True
            self._show(errors)
            n = len(errors)
            what = ("submitted" if submit and not was_submitted
                    else "saved")
            self._say("error", f"<b>Not {what}.</b> {n} field"
                      f"{'s need' if n != 1 else ' needs'} attention: "
                      f"{self._listed(errors, with_messages=True)}. See the messages beside "
                      f"the field{'s' if n != 1 else ''}.", until_fixed=True, at_buttons=True)
            return False
        self.review_id, self.version, self.status = review_id, version, status
        self._dirty = False
        self.reload_button.layout.display = "none"
        when = dt.datetime.now().strftime("%H:%M")
        rid = html.escape(review_id)
        if submit:
            message = (f"<b>Changes to review {rid} saved</b> at {when} (version {version}); "
                       "it stays submitted." if was_submitted
                       else f"<b>Review {rid} submitted</b> at {when}.")
            overall = values.get(domain.score_column("overall"))
            if self.stage == "first" and overall in domain.POOR_CARE and not was_submitted:
                message += (f" Overall care was scored {overall} "
                            f"({html.escape(domain.label('care_score', overall))}): the case "
                            "now goes to the second-stage review queue.")
        elif was_submitted:
            message = (f"<b>Review {rid} returned to draft</b> at {when} (version {version}). "
                       "It is left out of every published figure until it is submitted again.")
        else:
            message = (f"<b>Draft saved</b> at {when} (review {rid}). "
                       "You can come back to it from <i>my drafts</i>.")
        if submit and self._pending:
            message += self._store_pending()
        self._say("ok", message, at_buttons=True)
        self._after_save(submit)
        self._update_header()
        if self.coding_here():
            self._themes_state()
        # the session validated it with the same rules; a draft may still be incomplete
        self._show({} if submit else self.errors())
        return True

    def _same_case_reviewed(self, values: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(review id, status)`` of a first-stage review of the same case by the same
        reviewer already stored, when this form holds a new first-stage review; else ``None``.
        The held-out audit of 2026-12-06: a new review of one case typed in two tabs and saved
        in both made two first-stage reviews of the case by one reviewer, each counted."""
        if self.review_id is not None or self.stage != "first" or self.save_to is not None:
            return None
        case = str(values.get("case_id") or "").strip()
        if not case:
            return None
        mine = self.session.reviews(stage="first", columns=[
            "review_id", "case_id", "reviewer_id", "organisation_code", "status"])
        same = mine[(mine["case_id"].astype(str).str.strip() == case)
                    & (mine["organisation_code"] == values.get("organisation_code"))]
        if self._lead:  # a lead enters reviews under the reviewer's id they type
            reviewer = values.get("reviewer_id")
            if not reviewer:
                return None
            same = same[same["reviewer_id"] == reviewer]
        if same.empty:  # a reviewer's session gives only their own reviews
            return None
        row = same.iloc[0]
        return str(row["review_id"]), domain.label("status", str(row["status"])).lower()

    def _second_stage_still_open(self) -> bool:
        """Whether a new second-stage review may still be saved: its first-stage review is
        still waiting in the queue (one without a second-stage review yet). The held-out audit
        of 2026-12-06: the same case started from the queue in two tabs and submitted in both
        made two second-stage reviews of one first-stage review, the second tab told nothing.
        A saved review (a draft included) has already taken the case off the queue."""
        if self.review_id is not None or self.stage != "second" or not self.second_review_of \
                or self.save_to is not None:
            return True
        queue = self.session.second_stage_queue()
        return self.second_review_of in set(queue["review_id"])

    def lock(self) -> bool:
        """Lock the review (organisation lead only); return whether it was locked."""
        from data_access.store import StaleReviewError

        if self.review_id is None:
            self._say("error", "Save and submit the review before locking it.", at_buttons=True)
            return False
        try:
            self.version = self.session.lock_review(self.review_id,
                                                    expected_version=self.version)
        except StaleReviewError as exc:
            self.reload_button.layout.display = ""
            self._say("error", "<b>Not locked: someone else changed this review since you "
                      "opened it (or you did, in another tab or window).</b> Press "
                      "<i>Reload latest version</i>, check it, and lock "
                      f"again. <span class='sjr-hint'>({html.escape(str(exc))})</span>",
                      at_buttons=True)
            return False
        except (AccessDenied, ValueError) as exc:
            self._say("error", f"<b>Not locked.</b> {html.escape(str(exc))}", at_buttons=True)
            return False
        self.status = "locked"
        self._say("ok", f"<b>Review {html.escape(self.review_id)} locked.</b> It can no "
                  "longer be changed.", at_buttons=True)
        self._update_header()
        self._set_read_only(True)
        self.refresh()
        return True

    def reload(self) -> None:
        """Load the saved version of the current review, discarding the form's changes."""
        if self.review_id is not None:
            self._dirty = False  # the button says it discards the form's changes
            self.load(self.review_id)
            self._say("ok", f"Loaded the latest saved version of review "
                      f"{html.escape(self.review_id)} (version {self.version}).")

    # ----------------------------------------------------------------------------- loading
    def new_review(self) -> None:
        """Clear the form for a new first-stage review, on the latest form version."""
        values: dict[str, Any] = {c: None for c in self.registry.column_names()}
        orgs = list(self.session.organisation_codes or [])
        values["organisation_code"] = orgs[0] if len(orgs) == 1 else None
        values["review_date"] = self.today
        self._first = None
        self._fill(values, review_id=None, version=None, status="draft", stage="first",
                   second_review_of=None)
        self.link_box.value = ""
        self._say(None, "")

    def load(self, review_id: str) -> None:
        """Open a saved review for editing (the session decides whether this user may)."""
        record = dict(self.session.review(review_id))
        self._first = None
        if record.get("second_review_of"):
            try:
                self._first = dict(self.session.review(record["second_review_of"]))
            except AccessDenied:  # the first review may be out of this user's sight
                self._first = None
        self._fill(record, review_id=review_id, version=record.get("version"),
                   status=record.get("status") or "draft",
                   stage=record.get("review_stage") or "first",
                   second_review_of=record.get("second_review_of"))
        self.link_box.value = self._link_html(record.get("second_review_of"), self._first)

    def start_second_stage(self, first_review_id: str) -> None:
        """Start a second-stage review of the case of ``first_review_id``, linked to it.

        The case details and reasons are carried over; the judgements start blank, because
        the second review is an independent judgement (the first one is summarised above).
        """
        first = dict(self.session.review(first_review_id))
        self._first = first
        values: dict[str, Any] = {c: None for c in self.registry.column_names()}
        for column in self._carried_columns():
            values[column] = first.get(column)
        values["review_date"] = self.today
        self._fill(values, review_id=None, version=None, status="draft", stage="second",
                   second_review_of=first_review_id)
        self.link_box.value = self._link_html(first_review_id, first)
        self._say("ok", f"Second-stage review of case {html.escape(str(first.get('case_id')))}"
                  " started. Avoidability of death is required at this stage.")

    def _fill(self, values: dict[str, Any], *, review_id: str | None, version: int | None,
              status: str, stage: str, second_review_of: str | None) -> None:
        if self._dirty and self.save_to is None:
            self._put_aside()
        self._loading = True
        try:
            self.review_id, self.version, self.status = review_id, version, status
            self._new_id = None if review_id else _new_review_id()
            self.stage, self.second_review_of = stage, second_review_of
            # a saved review opens in its own version (blank: the 2017 form); a new one on
            # the latest
            self.form_version = (str(_plain(values.get(FORM_VERSION_COLUMN)) or BASE_VERSION)
                                 if review_id is not None else LATEST_VERSION)
            self.version_select.value = self.form_version
            self.version_select.disabled = review_id is not None
            for q, editor in self.referrals.values():
                editor.set_entries([(t, _plain(values.get(q.value_column(t))),
                                     _plain(values.get(q.companion_column(t))))
                                    for t in q.types.ids
                                    if _plain(values.get(q.value_column(t))) is not None])
            for column, fld in self.fields.items():
                if column == "review_reasons":
                    chosen = _split_reasons(values.get(column))
                    for rid, box in self.reason_boxes.items():
                        box.value = rid in chosen
                elif column.startswith("problem_"):
                    ptype = column.removeprefix("problem_")
                    harm = _plain(values.get(column))
                    self.problem_present[ptype].value = harm is not None
                    ui.set_value(fld.widget, harm)
                    fld.widget.disabled = harm is None
                else:
                    fld.value = self._to_widget(column, _plain(values.get(column)))
            for phase, na in self._na.items():
                na.value = (phase != "overall" and review_id is not None
                            and _plain(values.get(domain.score_column(phase))) is None)
        finally:
            self._loading = False
        self._dirty = False
        self._hide_withdraw()
        self._set_read_only(status == "locked")
        self.touched = set()
        self.show_all_errors = False
        self.identifiers = {}
        for column in self._id_boxes:
            self._screen(column)
        for question in self.referrals:
            self._screen_rows(question)
        self._apply_questions()
        self._show_version()
        self._update_header()
        self._show({}, checked=False)  # nothing typed yet: nothing to say
        self._themes_opened()

    def _put_aside(self) -> None:
        """Keep the unsaved form before another review replaces it (*New review*, a draft
        chosen, *Open review*, a second-stage review started), and offer it back. The held-out
        audit of 2026-12-06: half a review typed, then a draft chosen from *my drafts* by
        mistake, and everything typed was gone without a word."""
        self._aside.append({
            "values": self.values(), "review_id": self.review_id, "version": self.version,
            "status": self.status, "stage": self.stage,
            "second_review_of": self.second_review_of, "form_version": self.form_version,
            "first": self._first, "link": self.link_box.value, "new_id": self._new_id,
            "na": {p: box.value for p, box in self._na.items()},
            "present": {t: box.value for t, box in self.problem_present.items()},
            "touched": set(self.touched)})
        self._show_aside()

    @property
    def _dirty(self) -> bool:
        """Whether the form holds typing not saved since it was filled or last saved."""
        return self._typed

    @_dirty.setter
    def _dirty(self, typed: bool) -> None:
        self._typed = typed
        self._guard_leaving()

    def _guard_leaving(self) -> None:
        """Arm :class:`LeaveGuard` while leaving the page would lose typing: the form's own,
        or a form put aside."""
        self.leave_guard.armed = bool(self._typed or getattr(self, "_aside", None))

    def _show_aside(self) -> None:
        self._guard_leaving()
        if not self._aside:
            self.aside_box.layout.display = "none"
            self.aside_text.value = ""
            return
        last = self._aside[-1]
        what = ("a new review" if last["review_id"] is None
                else f"review {last['review_id']}")
        case = last["values"].get("case_id")
        more = len(self._aside) - 1
        self.aside_text.value = ui.banner(
            "warn", f"<b>Unsaved changes put aside:</b> {html.escape(what)}"
            + (f" (case {html.escape(str(case))})" if case else "")
            + (f", and {more} more before it" if more else "")
            + ". Nothing of it was saved; bring it back to save it.")
        self.aside_box.layout.display = ""

    def restore_aside(self) -> None:
        """Put the latest unsaved form put aside back (the one now in the form, if it has
        unsaved changes, is put aside in its place)."""
        if not self._aside:
            return
        kept = self._aside.pop()
        self._fill(dict(kept["values"]), review_id=kept["review_id"],
                   version=kept["version"], status=kept["status"], stage=kept["stage"],
                   second_review_of=kept["second_review_of"])
        self._loading = True
        try:
            if kept["review_id"] is None:
                self._new_id = kept["new_id"]
                self.form_version = kept["form_version"]
                self.version_select.value = self.form_version
            for phase, value in kept["na"].items():
                self._na[phase].value = value
            for ptype, value in kept["present"].items():
                self.problem_present[ptype].value = value
        finally:
            self._loading = False
        self._set_read_only(self.status == "locked")
        self._first = kept["first"]
        self.link_box.value = kept["link"]
        self.touched = kept["touched"]
        self._dirty = True
        for column in self._id_boxes:
            self._screen(column)
        self._show_version()
        self._update_header()
        self.refresh()
        self._show_aside()
        self._say("ok", "Your unsaved changes are back in the form: save them when ready.")

    def discard_aside(self) -> None:
        """Forget the latest unsaved form put aside."""
        if self._aside:
            self._aside.pop()
        self._show_aside()

    def _set_read_only(self, read_only: bool) -> None:
        """Every answer read-only (a locked review), with a notice saying why; or editable
        again, a phase not applicable and a problem not ticked keeping their answers shut."""
        for fld in self.fields.values():
            if "disabled" in fld.widget.trait_names():
                fld.widget.disabled = read_only
        for box in (*self.reason_boxes.values(), *self._na.values(),
                    *self.problem_present.values()):
            box.disabled = read_only
        for _, editor in self.referrals.values():
            editor.set_disabled(read_only)
        if not read_only:
            for phase, na in self._na.items():
                for column in (domain.score_column(phase), domain.comment_column(phase)):
                    self.fields[column].widget.disabled = na.value
            for ptype, present in self.problem_present.items():
                self.fields[domain.problem_column(ptype)].widget.disabled = not present.value
        self.lock_notice.value = ui.banner(
            "warn", f"<b>Review {html.escape(str(self.review_id))} is locked.</b> An "
            "organisation lead locked it: it can no longer be changed, so every answer is "
            "shown read-only.") if read_only else ""

    def _carried_columns(self) -> list[str]:
        """Columns that describe the case (not the judgement): carried over to a second
        stage."""
        return ["organisation_code"] + [c.name for q in self.registry.fields()
                                        if q.section in _CARRIED_SECTIONS for c in q.columns()]

    def _to_widget(self, column: str, value: Any) -> Any:
        """A stored value as its widget holds it (a date, a whole number)."""
        if value is None:
            return None
        kind = self.registry.column(column).kind
        if kind is Kind.DATE:
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, str):
                return dt.date.fromisoformat(value[:10])
            return value.date() if hasattr(value, "date") else value
        if kind is Kind.SCORE:
            return int(value)
        return value

    def _version_chosen(self) -> None:
        """A new review moved to another form version: its questions follow."""
        if self._loading or self.version_select.value is None:
            return
        self.form_version = self.version_select.value
        for question in self.referrals:
            self._screen_rows(question)
        self._show_version()
        self._update_header()
        self.refresh()

    def _show_version(self) -> None:
        note = answer_list(FORM_VERSION_COLUMN).answer(self.form_version).note
        said = note[:1].upper() + note[1:] + "." if note else ""
        if self.review_id is not None:
            said += " A saved review keeps the version it was entered on."
        self.version_note.value = html.escape(said.strip())

    def page_opened(self) -> None:
        """Bring a form built in advance up to date: today's date, drafts and queue."""
        self.today = uk_today()
        if self.review_id is None:
            self._loading = True  # a default, not something the user typed
            try:
                self.fields["review_date"].value = self.today
            finally:
                self._loading = False
        self._refresh_lists()

    def _after_save(self, submitted: bool) -> None:
        """Keep the drafts list and the queue in step with a save, without reloading them."""
        drafts = [o for o in self.drafts_select.options if o[1] != self.review_id]
        if not submitted:
            drafts.append((f"{self.review_id} · case {self.fields['case_id'].value} · "
                           f"{domain.label('review_stage', self.stage)}", self.review_id))
        self._loading = True
        try:
            self.drafts_select.options = drafts
            ui.set_value(self.drafts_select, None)  # '— my drafts —', not an empty box
        finally:
            self._loading = False
        if submitted and self.stage == "second" and self.second_review_of:
            self._set_queue([o for o in self.queue_select.options
                             if o[1] != self.second_review_of])

    def _set_queue(self, options: list[tuple[str, Any]]) -> None:
        self.queue_select.options = options
        if self.queue_select.index is None or self.queue_select.value is None:
            ui.set_value(self.queue_select, None)
        n = len(options) - 1
        self.queue_button.description = (
            f"Start second-stage review ({n} waiting)" if n else "Start second-stage review")
        self.queue_button.disabled = n == 0

    def _open_draft(self) -> None:
        if self.drafts_select.value is not None:
            self.open(self.drafts_select.value)

    def _open_by_id(self) -> None:
        review_id = (self.open_id.value or "").strip()
        if not review_id:
            return
        findings = find_identifiers(review_id)
        if findings:
            # The session records every look-up, a refused one with the id asked for, in the
            # append-only audit log: an NHS number typed here to find a case stayed there (the
            # held-out audit of 2026-12-06). Nothing is looked up.
            what = "; ".join(KINDS[f.kind] for f in findings)
            self._say("error", "<b>Not looked up.</b> What is typed in <i>Id of the review "
                      f"to open</i> looks like a patient identifier ({html.escape(what)}), "
                      "not a review id; nothing was searched for or recorded. Type the review "
                      "id, e.g. XA2-SJR000912, or choose the review from <i>my drafts</i>.")
            self.open_id.value = ""
            return
        self.open(review_id)

    def open(self, review_id: str) -> bool:
        """Open a saved review for editing, saying why not when this user may not."""
        try:
            self.load(review_id)
        except AccessDenied as exc:
            self._say("error", f"<b>Cannot open review {html.escape(review_id)}.</b> "
                      f"{html.escape(str(exc))}")
            return False
        # a locked review says so in its own notice, just above
        said = (" It stays submitted when you save changes."
                if self.status == "submitted" else "")
        self._say("ok", f"Opened review {html.escape(review_id)} "
                  f"({domain.label('status', self.status).lower()}, version {self.version})."
                  + said)
        return True

    def _start_second_stage(self) -> None:
        if self.queue_select.value is not None:
            self.start_second_stage(self.queue_select.value)

    def _refresh_lists(self) -> None:
        """Fill the 'my drafts' and second-stage queue choosers from the session."""
        drafts = self.session.reviews(status="draft")
        options: list[tuple[str, Any]] = [("— my drafts —", None)]
        # the session gives a reviewer only their own reviews, a lead their organisation's
        for row in drafts.sort_values("review_id").itertuples():
            options.append((f"{row.review_id} · case {row.case_id} · "
                            f"{domain.label('review_stage', row.review_stage)}", row.review_id))
        self._loading = True
        try:
            self.drafts_select.options = options
            ui.set_value(self.drafts_select, None)  # '— my drafts —', not an empty box
        finally:
            self._loading = False
        queue = self.session.second_stage_queue()
        q_options: list[tuple[str, Any]] = [("— second-stage queue —", None)]
        for row in queue.itertuples():
            overall = getattr(row, "score_overall", None)
            where = "" if len(self.session.organisation_codes or ()) == 1 else (
                f" · {row.organisation_code}")
            q_options.append((
                f"case {row.case_id}{where} · overall {overall} "
                f"{domain.label('care_score', overall)} · {row.review_id}", row.review_id))
        self._set_queue(q_options)

    def _update_header(self) -> None:
        s = self.session
        orgs = ", ".join(s.organisation_codes or []) or "all organisations"
        what = ("New review" if self.review_id is None
                else f"Review {html.escape(self.review_id)}")
        stage = domain.label("review_stage", self.stage)
        status = domain.label("status", self.status)
        self.header.value = (
            "<h2 style='margin:4px 0'>Structured judgement review</h2>"
            f"<div class='sjr-hint'>Signed in as <b>{html.escape(str(s.user))}</b> "
            f"({html.escape(str(s.role).replace('_', ' '))}, {html.escape(orgs)})</div>"
            f"<div class='sjr-state'><b>{what}</b> · {stage} · {status} · "
            f"{html.escape(domain.label(FORM_VERSION_COLUMN, self.form_version))}</div>")

    def _link_html(self, first_id: str | None, first: dict | None) -> str:
        if not first_id:
            return ""
        first = first or {}
        overall = _plain(first.get(domain.score_column("overall")))
        said = (f"overall care {overall} ({html.escape(domain.label('care_score', overall))})"
                if overall is not None else "")
        judgement = _plain(first.get(domain.comment_column("overall")))
        text = ui.banner("warn",
                         f"<b>Second-stage review of first-stage review "
                         f"{html.escape(first_id)}</b>" + (f": {said}" if said else "")
                         + (f"<br><i>First reviewer's overall judgement:</i> "
                            f"{html.escape(str(judgement))}" if judgement else ""))
        return text

    def _say(self, kind: str | None, message_html: str, *, until_fixed: bool = False,
             at_buttons: bool = False) -> None:
        """Show a banner; ``until_fixed`` ones go once the form has no errors left.
        ``at_buttons``: the outcome of a save, submit or lock, said beside the buttons too (the
        banner at the top is out of sight there); any other message clears it."""
        self.banner.value = ui.banner(kind, message_html) if kind else ""
        self.outcome.value = ui.banner(kind, message_html) if kind and at_buttons else ""
        self._banner_until_fixed = until_fixed


_MONTH = re.compile(r"^\d{4}-\d{2}$")


def _row_key(q: ChildRows, index: int) -> str:
    """The key of one row of a rows editor in the form's errors and identifier findings."""
    return f"{q.id}#{index}"


def _new_review_id() -> str:
    """A fresh review id that cannot be mistaken for a patient identifier."""
    while True:
        candidate = f"SJR-{uuid.uuid4().hex[:12].upper()}"
        if not find_identifiers(candidate):
            return candidate


def _plain(value: Any) -> Any:
    """pandas/numpy scalars and missing markers -> plain Python values."""
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, str):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value


def _split_reasons(value: Any) -> set[str]:
    value = _plain(value)
    if not value:
        return set()
    if isinstance(value, str):
        return {v.strip() for v in value.split(domain.REASON_SEPARATOR) if v.strip()}
    return set(value)


def _columns_of(error: Any) -> Iterable[str]:
    column = getattr(error, "column", None) or ""
    parts = [c.strip() for c in str(column).replace(",", ";").replace("+", ";").split(";")]
    return [c for c in parts if c] or ["review_id"]


_IDENTIFIER_MESSAGE = "Looks like it identifies the patient (highlighted below): remove it"
_IDENTIFIER_PREFIX = "Looks like it identifies"

_FORM_WORDING: dict[str, str] = {
    RuleId.NO_IDENTIFIERS: _IDENTIFIER_MESSAGE,
    RuleId.REQUIRED: "Required",
    RuleId.ANY_PROBLEMS_YES_BUT_NONE: "You answered yes: tick the problems below and say "
                                      "whether each led to harm",
    RuleId.ANY_PROBLEMS_NO_BUT_PROBLEM: "You answered no, but problems are ticked below: "
                                        "untick them or answer yes",
    # rules whose ids the field registry declares (its conditions and pairings)
    "case_id_not_identifier": "A case reference must not be an NHS or CHI number",
    "comment_required_when_scored": "Write the explicit judgement behind this score",
    "comment_blank_when_not_scored": "Give this phase a score, or clear the judgement",
    "second_stage_needs_avoidability": "Required at a second-stage review",
}
"""The same rules, worded for someone filling in the form rather than a file (by rule id)."""


@cache
def _conditions() -> dict[str, When]:
    """The registry's conditions by rule id (what a question or answer is only for)."""
    return {str(when.rule): when for _, _, when in registry().conditions()}


def _for_people(error: Any, label: str) -> str:
    """A rule's message worded for the form: :data:`_FORM_WORDING`, else the message with the
    column id replaced by the field's label."""
    rule = getattr(error, "rule", None)
    if rule in _FORM_WORDING:
        return _FORM_WORDING[rule]
    condition = _conditions().get(str(rule))
    if condition is not None:  # a registry condition, in its own words
        return "Only when " + condition.says.replace("_", " ")
    message = str(getattr(error, "message", error))
    column = str(getattr(error, "column", ""))
    if column and column in message:
        message = message.replace(column, label.lower() if not message.startswith(column)
                                  else label)
    return message[:1].upper() + message[1:]


def _message_of(error: Any, *, with_column: bool = False) -> str:
    message = str(getattr(error, "message", error))
    if with_column:
        return f"{getattr(error, 'column', '')}: {message}"
    return message


def _highlight(text: str, findings: list[Any]) -> str:
    """HTML of ``text`` with each finding marked, and a line saying what was found."""
    if not findings:
        return ""
    parts, last = [], 0
    for f in findings:
        parts.append(html.escape(text[last:f.start]))
        parts.append(f"<mark class='sjr-id' title='{html.escape(KINDS[f.kind])}'>"
                     f"{html.escape(text[f.start:f.end])}</mark>")
        last = f.end
    parts.append(html.escape(text[last:]))
    what = "; ".join(f"{KINDS[f.kind]} <b>{html.escape(f.text)}</b>" for f in findings)
    return ui.banner("error", f"<b>Possible patient identifier{'s' if len(findings) > 1 else ''}"
                     f":</b> {what}. Saving is blocked until this is removed."
                     f"<div style='margin-top:4px;white-space:pre-wrap'>{''.join(parts)}</div>")


def review_entry(user: str | None = None, db: str | None = None) -> w.Widget:
    """The review entry app for the notebook: opens the governed session for the signed-in
    user (``JUPYTERHUB_USER``/``SJR_USER``) and returns the form, or a clear message when the
    user may not enter reviews."""
    from data_access import open_session

    try:
        session = open_session(user=user, db=db, tool="voila:review_entry")
    except AccessDenied as exc:
        return ui.section("Review entry unavailable", w.HTML(html.escape(str(exc))))
    if session.role not in ("reviewer", "organisation_lead"):
        return ui.section("Review entry unavailable", w.HTML(
            f"Reviews are entered by reviewers and organisation leads; "
            f"{html.escape(str(session.user))} is signed in as "
            f"{html.escape(str(session.role).replace('_', ' '))}."))
    from sjrlib.dashboards.serve import wait_for_page

    form = ReviewForm(session)
    if wait_for_page():  # built in advance by a pre-heated kernel: bring it up to date
        form.page_opened()
    notice = ui.demo_sign_in(session)
    return form.widget if notice is None else w.VBox([notice, form.widget])
