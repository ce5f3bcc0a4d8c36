"""The actions tab of the coding dashboard: an organisation lead records what was done about the
learning, with a measure to see its impact by (``shared/spec/learning.md``, "Actions and impact").

Everything goes through the governed session (``Session.record_action``, ``Session.actions``:
the lead's own organisation, audited); the checks are the session's (description and owner
screened for identifiers, dates in order, a measure with the month the change went in), and a
refusal is shown in words beside the form, with the field's label rather than its column name.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from sjrlib.dashboards import _widgets as ui
from sjrlib.rules import uk_today

__all__ = ["ActionRegister", "FIELD_LABELS"]

FIELD_LABELS: dict[str, str] = {
    "description": "Action",
    "owner_role": "Owner (a role)",
    "status": "Status",
    "agreed_on": "Agreed on",
    "due_on": "Due by",
    "completed_on": "Completed on",
    "themes": "Themes it answers",
    "review_ids": "Reviews it answers",
    "measure": "Measure",
    "change_month": "Month the change went in",
    "target": "Target (%)",
}
"""Each action field's label on the form, used in the form and in the session's messages."""

_LABEL_WIDTH = "13em"


def _status_label(status: str) -> str:
    return status.replace("_", " ").capitalize()


class ActionRegister:
    """Record an action and see the organisation's register.

    Parameters
    ----------
    session
        An open governed session of an organisation lead.
    codebook
        The store's latest codebook (``session.codebook()``).
    current_review
        Returns the review shown in the coding queue and the themes coded on it there
        (``(None, [])`` when none), to link the action to it in one tick.

    Attributes
    ----------
    fields : dict[str, ipywidgets.Widget]
        One widget per action field (CSS class ``f-action-<field>``); themes are check boxes
        (``f-action-theme-<id>``) in ``theme_boxes``.
    register : pandas.DataFrame
        The organisation's actions as last read.
    widget : ipywidgets.VBox
        The tab's content (CSS class ``v-actions``).
    """

    def __init__(self, session: Any, codebook: Any,
                 current_review: Callable[[], tuple[str | None, list[str]]]) -> None:
        from data_access.actions import ACTION_STATUSES
        from sjrlib.measures import allowed_measures

        self.session = session
        self.codebook = codebook
        self.current_review = current_review
        self.themes = {t.id: t.label for t in codebook.active}
        self.measures = {m.id: m.label for m in allowed_measures(codebook)}
        text = ui.text
        self.fields: dict[str, w.Widget] = {
            "description": w.Textarea(
                placeholder="What will change, e.g. sepsis screening added to the emergency "
                            "department triage form", layout=w.Layout(width="44em",
                                                                      height="4.5em")),
            "owner_role": text("A role, e.g. Sepsis lead (never a person's name)", "22em"),
            "status": ui.dropdown([(_status_label(s), s) for s in ACTION_STATUSES], "12em"),
            "agreed_on": w.DatePicker(value=uk_today(), layout=w.Layout(width="12em")),
            "due_on": w.DatePicker(value=None, layout=w.Layout(width="12em")),
            "completed_on": w.DatePicker(value=None, layout=w.Layout(width="12em")),
            "review_ids": text("Review ids separated by ;", "30em"),
            "measure": ui.dropdown([("— no measure —", None)]
                                   + [(label, m) for m, label in self.measures.items()],
                                   "36em"),
            "change_month": text("YYYY-MM", "8em"),
            "target": text("e.g. 10", "8em"),
        }
        for name, widget in self.fields.items():
            widget.add_class(f"f-action-{name}")
        self.theme_boxes = {t: w.Checkbox(value=False, description=label, indent=False,
                                          layout=w.Layout(width="29em"))
                            for t, label in self.themes.items()}
        for t, box in self.theme_boxes.items():
            box.add_class(f"f-action-theme-{t}")
        self.link_review = w.Checkbox(value=False, indent=False, description="",
                                      layout=w.Layout(width="36em"))
        self.link_review.add_class("f-action-link-review")
        self.link_review.observe(lambda change: self._link_current(change["new"]),
                                 names="value")
        self.record_button = ui.button("Record action", "b-action-record", style="primary",
                                       tooltip="Record this action in your organisation's "
                                               "register")
        self.record_button.on_click(lambda _: self.record())
        self.message = w.HTML()
        self.message.add_class("sjr-action-message")
        self.table = w.HTML()
        self.table.add_class("sjr-actions-table")
        self.widget = self._layout()
        self.widget.add_class("v-actions")
        self.read()

    # ----------------------------------------------------------------------------- data
    def read(self) -> None:
        """Read the organisation's register (audited) and show it."""
        self.register = self.session.actions()
        self.table.value = self._table_html()

    def values(self) -> dict[str, Any]:
        """The form as the values ``Session.record_action`` takes."""
        f = self.fields
        reviews = [r.strip() for r in re.split(r"[;,\s]+", f["review_ids"].value or "")
                   if r.strip()]
        return {
            "description": (f["description"].value or "").strip(),
            "owner_role": (f["owner_role"].value or "").strip(),
            "status": f["status"].value,
            "agreed_on": f["agreed_on"].value,
            "due_on": f["due_on"].value,
            "completed_on": f["completed_on"].value,
            "themes": [t for t, box in self.theme_boxes.items() if box.value],
            "review_ids": reviews,
            "measure": f["measure"].value,
            "change_month": (f["change_month"].value or "").strip() or None,
            "target": (f["target"].value or "").strip() or None,
        }

    def record(self) -> str | None:
        """Record the action on the form through the governed session; its id, or ``None``
        with the reason shown when it was refused."""
        from data_access import AccessDenied

        values = self.values()
        description = values.pop("description")
        try:
            action_id = self.session.record_action(description, **values)
        except (ValueError, AccessDenied) as exc:
            self.message.value = ui.banner("error", f"<b>Not recorded.</b> "
                                           f"{html.escape(_in_words(str(exc)))}")
            return None
        self.read()
        measure = self.measures.get(values["measure"] or "", "")
        said = f" Its impact: {html.escape(measure)}, rebased at " \
               f"{html.escape(_month_words(values['change_month']))}." if measure else ""
        self.message.value = ui.banner(
            "ok", f"<b>Action recorded</b> in the register of "
            f"{html.escape(', '.join(self.session.organisation_codes or ()))}.{said} It "
            "appears in your trust report's actions section.")
        self._clear()
        return action_id

    # ----------------------------------------------------------------------------- form
    def refresh_link(self) -> None:
        """Say which review the link box would link (the review shown in the queue)."""
        review_id, _ = self.current_review()
        self.link_review.disabled = review_id is None
        self.link_review.description = (
            f"Link the review being coded ({review_id}) and tick its themes"
            if review_id else "Link the review being coded (none open)")

    def _link_current(self, on: bool) -> None:
        review_id, themes = self.current_review()
        if not on or review_id is None:
            return
        ids = [r for r in re.split(r"[;,\s]+", self.fields["review_ids"].value or "") if r]
        if review_id not in ids:
            self.fields["review_ids"].value = "; ".join([*ids, review_id])
        for theme in themes:
            if theme in self.theme_boxes:
                self.theme_boxes[theme].value = True

    def _clear(self) -> None:
        f = self.fields
        f["description"].value = f["owner_role"].value = ""
        f["review_ids"].value = f["change_month"].value = f["target"].value = ""
        ui.set_value(f["status"], "open")
        ui.set_value(f["measure"], None)
        f["measure"].index = 0
        f["agreed_on"].value = uk_today()
        f["due_on"].value = f["completed_on"].value = None
        for box in self.theme_boxes.values():
            box.value = False
        self.link_review.value = False

    def _row(self, name: str, *widgets: w.Widget, hint: str = "") -> w.HBox:
        label = w.HTML(html.escape(FIELD_LABELS[name]), layout=w.Layout(width=_LABEL_WIDTH))
        label.add_class("sjr-label")
        parts = [label, *widgets]
        if hint:
            parts.append(w.HTML(f"<span class='sjr-hint'>{html.escape(hint)}</span>",
                                layout=w.Layout(margin="0 0 0 8px")))
        return w.HBox(parts, layout=w.Layout(align_items="center", margin="2px 0"))

    def _layout(self) -> w.VBox:
        f = self.fields
        themes = w.GridBox(list(self.theme_boxes.values()),
                           layout=w.Layout(grid_template_columns="repeat(2, 29em)"))
        self.refresh_link()
        form = ui.section(
            "Record an action",
            self._row("description", f["description"]),
            self._row("owner_role", f["owner_role"]),
            self._row("status", f["status"]),
            self._row("agreed_on", f["agreed_on"]),
            self._row("due_on", f["due_on"], hint="optional"),
            self._row("completed_on", f["completed_on"], hint="when completed"),
            self._row("themes", themes),
            self._row("review_ids", f["review_ids"], hint="optional; links, never their text"),
            w.HBox([w.HTML("", layout=w.Layout(width=_LABEL_WIDTH)), self.link_review]),
            self._row("measure", f["measure"],
                      hint="optional: its SPC chart shows the impact"),
            self._row("change_month", f["change_month"], hint="with a measure"),
            self._row("target", f["target"],
                      hint="optional, with a measure: the % it should reach; the chart then "
                           "says whether the target will be met"),
            w.HBox([self.record_button], layout=w.Layout(margin="8px 0 0 0")),
            self.message,
            hint="What your organisation does about what the reviews teach. The description "
                 "and the owner are screened for identifiers: write a role, never a name.")
        register = ui.section("Your organisation's actions", self.table)
        return w.VBox([form, register])

    def _table_html(self) -> str:
        frame = self.register
        if frame.empty:
            return "<p class='sjr-note'>No actions recorded yet.</p>"
        frame = frame.sort_values(["agreed_on", "recorded_at"], ascending=False)
        rows = []
        for r in frame.itertuples():
            themes = ", ".join(self.themes.get(t, t) for t in str(r.themes or "").split(";")
                               if t)
            reviews = len([x for x in str(r.review_ids or "").split(";") if x])
            measure = self.measures.get(str(r.measure), "") if _given(r.measure) else ""
            if measure and _given(r.change_month):
                measure += f" (changed {_month_words(str(r.change_month))})"
            if measure and _given(getattr(r, "target", None)):
                measure += f"; target {float(r.target):g}%"
            cells = [_status_label(str(r.status)), str(r.description), str(r.owner_role),
                     _day(r.agreed_on), _day(r.due_on), _day(r.completed_on), themes,
                     str(reviews) if reviews else "", measure]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                        + "</tr>")
        head = ("Status", "Action", "Owner", "Agreed", "Due", "Completed", "Themes",
                "Reviews", "Measure")
        return ("<table class='sjr-table'><tr>" + "".join(f"<th>{h}</th>" for h in head)
                + "</tr>" + "".join(rows) + "</table>")


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) \
        and value is not pd.NA and str(value).strip() not in ("", "None", "<NA>", "nan")


def _day(value: Any) -> str:
    return pd.Timestamp(value).strftime("%d %b %Y") if _given(value) else ""


def _month_words(month: str) -> str:
    """``"2022-06"`` -> ``"June 2022"`` (as typed when it is not a month)."""
    try:
        return pd.Timestamp(f"{month}-01").strftime("%B %Y")
    except ValueError:
        return month


def _in_words(message: str) -> str:
    """The session's message with each field's column name replaced by its label on the form
    (``change_month`` -> 'Month the change went in')."""
    for name, label in FIELD_LABELS.items():
        if "_" in name:  # a column name: replaced wherever it stands
            message = re.sub(rf"\b{name}\b", f"'{label}'", message)
        elif name != label.lower():  # a plain word (description, target) naming its field at
            # the start of one of the message's "; "-joined problems: "description is
            # required" reads "'Action' is required", as the form labels the box
            message = re.sub(rf"(^|; ){name}\b", rf"\1'{label}'", message)
    return message
