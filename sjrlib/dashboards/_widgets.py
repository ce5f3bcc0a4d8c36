"""Small building blocks shared by the dashboards: a labelled field row with its error beside it.

Every widget gets a CSS class (``f-<column>``) so that browser tests and people's own scripts can
find it; the error label beside it gets ``e-<column>``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import ipywidgets as w

LABEL_WIDTH = "16em"
WIDGET_WIDTH = "22em"

STYLE_CSS = """
<style>
.sjr-app { max-width: 74em; font-size: 14px; }
.sjr-app .sjr-label .widget-html-content,
.sjr-app .sjr-error .widget-html-content { line-height: 1.35; padding-top: 5px; }
.sjr-app .sjr-error { color: #b00020; }
.sjr-app .sjr-error b { font-weight: 600; }
.sjr-app .sjr-section { border-top: 2px solid #005eb8; margin-top: 14px; padding-top: 4px; }
.sjr-app .sjr-section h3 { color: #005eb8; margin: 4px 0 6px 0; }
.sjr-app .sjr-phase { border: 1px solid #d8dde0; border-radius: 4px; padding: 6px 10px;
                      margin: 6px 0; background: #fafbfc; }
.sjr-app .sjr-banner-ok { background: #e8f4ea; border-left: 5px solid #007f3b; padding: 6px 10px; }
.sjr-app .sjr-banner-warn { background: #fff4e0; border-left: 5px solid #ed8b00;
                            padding: 6px 10px; }
.sjr-app .sjr-banner-error { background: #fde8e8; border-left: 5px solid #b00020;
                             padding: 6px 10px; }
.sjr-app mark.sjr-id { background: #ffd6d6; border-bottom: 2px solid #b00020; padding: 0 1px; }
.sjr-app .sjr-hint { color: #4c6272; font-size: 12px; }
.sjr-app .sjr-figure img { max-width: 100%; }
.sjr-app table.sjr-table { border-collapse: collapse; font-size: 12px; line-height: 1.35;
                           margin: 8px 0; }
.sjr-app table.sjr-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.sjr-app p.sjr-note { line-height: 1.35; font-size: 12px; color: #4c6272; }
.sjr-app .sjr-hint .widget-html-content, .sjr-app .sjr-summary .widget-html-content,
.sjr-app .sjr-caption .widget-html-content { line-height: 1.4; }
.sjr-app .jupyter-widget-tab > .lm-TabBar .lm-TabBar-tab { flex: 0 0 auto; min-width: 9em; }
.sjr-app table.sjr-table th, .sjr-app table.sjr-table td {
    border-bottom: 1px solid #d8dde0; padding: 2px 8px; text-align: left; }
.sjr-app table.sjr-table td.num { text-align: right; }
.sjr-app .sjr-named > .widget-label, .sjr-app .sjr-named .widget-label-basic > span {
    position: absolute !important; width: 1px !important; height: 1px; overflow: hidden;
    clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; margin: 0; padding: 0; }
.sjr-app .sjr-outcome .widget-html-content { line-height: 1.4; }
</style>
"""


def style() -> w.HTML:
    """The stylesheet of the dashboards, as a widget to put first in the app."""
    return w.HTML(STYLE_CSS)


def label_input(widget: w.Widget, label: str) -> w.Widget:
    """Give an input an accessible name (what a screen reader says for it) without showing it
    twice: the widget's ``description`` becomes the ``<label for=...>`` of its input, hidden
    visually (CSS class ``sjr-named``) because the form shows its own label beside it."""
    if "description" in widget.trait_names() and label:
        widget.description = label
        widget.add_class("sjr-named")
    return widget


def section(title: str, *children: w.Widget, hint: str = "") -> w.VBox:
    """A titled section of a form."""
    head = f"<h3>{html.escape(title)}</h3>"
    if hint:
        head += f"<div class='sjr-hint'>{html.escape(hint)}</div>"
    box = w.VBox([w.HTML(head), *children])
    box.add_class("sjr-section")
    return box


@dataclass
class Field:
    """One form field: its column, widget, error label and the row that lays them out."""

    column: str
    widget: w.Widget
    label: str
    error: w.HTML = field(default_factory=w.HTML)
    row: w.Box | None = None
    read: Callable[[Any], Any] = lambda v: v
    write: Callable[[Any], Any] = lambda v: v
    help: str = ""
    label_width: str = LABEL_WIDTH

    def __post_init__(self) -> None:
        self.widget.add_class(f"f-{self.column}")
        self.error.add_class(f"e-{self.column}")
        self.error.add_class("sjr-error")
        self.error.layout = w.Layout(width="auto", flex="1 1 16em", margin="0 0 0 8px")
        label_input(self.widget, self.label)
        if self.row is None:
            text = html.escape(self.label)
            if self.help:
                text += f"<div class='sjr-hint'>{html.escape(self.help)}</div>"
            label = w.HTML(text, layout=w.Layout(width=self.label_width, flex="0 0 auto",
                                                 margin="0 8px 0 0"))
            label.add_class("sjr-label")
            self.row = w.HBox([label, self.widget, self.error],
                              layout=w.Layout(align_items="flex-start", flex_flow="row wrap",
                                              margin="2px 0"))

    @property
    def value(self) -> Any:
        """The field's value as it goes into the values dict."""
        return self.read(getattr(self.widget, "value", None))

    @value.setter
    def value(self, value: Any) -> None:
        set_value(self.widget, self.write(value))

    def show_errors(self, messages: Sequence[str]) -> None:
        """Show ``messages`` beside the field (nothing when empty)."""
        self.error.value = "<br>".join(html.escape(m) for m in messages)


def choice_options(vocabulary: dict[str, str], *, numbered: bool = False,
                   blank: str = "— choose —") -> list[tuple[str, Any]]:
    """Dropdown options ``[(label, id)]`` with a blank first entry meaning "not recorded"."""
    options: list[tuple[str, Any]] = [(blank, None)]
    for key, text in vocabulary.items():
        if numbered:
            options.append((f"{key} · {text}", int(key)))
        else:
            options.append((text, key))
    return options


def dropdown(options: list[tuple[str, Any]], width: str = WIDGET_WIDTH) -> w.Dropdown:
    """A dropdown showing its first option (the blank, e.g. "— choose —") until chosen."""
    return w.Dropdown(options=options, index=0 if options else None,
                      layout=w.Layout(width=width))


def set_value(widget: w.Widget, value: Any) -> None:
    """Set a widget's value; ``None`` on a dropdown selects its blank first option, so the
    dropdown shows "— choose —" rather than an empty box."""
    if isinstance(widget, w.Dropdown) and value is None:
        # ipywidgets clears the index when the value becomes None (an empty box on screen):
        # clear it first, then the blank option's index stays
        widget.index = None
        widget.index = 0 if widget.options else None
    else:
        widget.value = value


def text(placeholder: str = "", width: str = WIDGET_WIDTH) -> w.Text:
    """A text box that sends its value when the user leaves it (or presses Enter), so a field
    is checked once it is typed, not at every key."""
    return w.Text(placeholder=placeholder, continuous_update=False,
                  layout=w.Layout(width=width))


_INT = re.compile(r"^\s*[+-]?\d+\s*$")


def read_text(value: str) -> str | None:
    """Text widget -> value: blank means not recorded."""
    value = (value or "").strip()
    return value or None


def write_text(value: Any) -> str:
    return "" if value is None else str(value)


def read_int(value: str) -> int | str | None:
    """Text widget holding a whole number -> int; blank -> None; anything else is kept as typed
    so that validation can say what is wrong with it."""
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if _INT.match(value) else value


def range_hint(low: int | None, high: int | None) -> str:
    """A whole number's range as a hint for people: ``18-120``, ``0 or more``."""
    if low is not None and high is not None:
        return f"{low}-{high}"
    if low is not None:
        return f"{low} or more"
    return "" if high is None else f"{high} or less"


def field_for(column: Any, *, label_width: str = LABEL_WIDTH) -> Field:
    """The widget of one registry column (``sjrlib.form.registry.Column``), chosen by the kind
    of answer it takes, labelled and hinted from its declaration.

    An answer list or a score is a dropdown of its labels (scores numbered); a whole number a
    short box hinted with its range; a date a date picker; anything else a text box whose
    placeholder is the question's help. Help not shown as a placeholder is shown under the
    label."""
    from sjrlib.form.registry import Kind

    spec = column.spec
    kind = spec.kind
    if kind in (Kind.ANSWERS, Kind.SCORE):
        widget = dropdown(choice_options(spec.answers.labels(), numbered=kind is Kind.SCORE))
        return Field(column.name, widget, column.label, help=spec.help, label_width=label_width)
    if kind is Kind.DATE:
        return Field(column.name, w.DatePicker(layout=w.Layout(width="12em")), column.label,
                     help=spec.help, label_width=label_width)
    if kind is Kind.INTEGER:
        return Field(column.name, text(range_hint(spec.low, spec.high), width="8em"),
                     column.label, read=read_int, write=write_text, label_width=label_width)
    width = "8em" if kind is Kind.MONTH else "16em" if kind is Kind.POSTCODE else WIDGET_WIDTH
    return Field(column.name, text(spec.help, width=width), column.label, read=read_text,
                 write=write_text, label_width=label_width)


def button(description: str, css_class: str, style: str = "", tooltip: str = "") -> w.Button:
    b = w.Button(description=description, button_style=style, tooltip=tooltip or description,
                 layout=w.Layout(width="auto", min_width="9em", margin="0 8px 0 0"))
    b.add_class(css_class)
    return b


def demo_sign_in(session) -> w.HTML | None:
    """A banner saying the visitor was signed in as the demo store's default user, and how to be
    another demo user; ``None`` unless ``sjr serve`` did that (``data_access.demo``)."""
    import os

    from data_access import demo

    if os.environ.get(demo.DEMO_SIGN_IN_ENV) != "1" or session.user != demo.DEFAULT_USER:
        return None
    others = ", ".join(f"<code>{html.escape(u.username)}</code> ({html.escape(u.can)})"
                       for u in demo.DEMO_USERS if u.username != demo.DEFAULT_USER)
    scope = ", ".join(session.organisation_codes or ())
    return w.HTML(banner(
        "warn", f"<b>Demo store:</b> no identity was given, so you are signed in as "
        f"<code>{html.escape(session.user)}</code> (organisation lead of "
        f"{html.escape(scope)}). To be another demo user, stop the server and start it with "
        "that name, e.g. <code>SJR_USER=demo-reviewer make serve</code>. Demo users: "
        f"{others}."))


def banner(kind: str, message_html: str) -> str:
    """HTML of a status banner: kind is ``ok``, ``warn`` or ``error``."""
    return f"<div class='sjr-banner-{kind}'>{message_html}</div>"



# ----------------------------------------------------------------------------- rows editor
class RowsEditor:
    """Several rows of (type, answer, reference) for a question answered per type, such as the
    referrals on of a review: *Add* appends a row, *Remove* takes one away. At most one row per
    type (the exchange format has one column per type); the form says so when a type is twice.

    ``types`` and ``answers`` are ``{id: label}``; the types offered can be narrowed with
    :meth:`offer_types` (a type already chosen stays offered, so that a rule can say why it no
    longer fits rather than the choice vanishing). CSS classes, with ``name`` the question id
    and ``i`` the row's position: ``f-<name>-type-<i>``, ``f-<name>-value-<i>``,
    ``f-<name>-companion-<i>`` (selects and the text box), ``e-<name>-<i>`` (its errors),
    ``b-<name>-remove-<i>``, and ``b-<name>-add``.
    """

    def __init__(self, name: str, *, types: dict[str, str], answers: dict[str, str],
                 type_label: str, answer_label: str, companion_label: str,
                 companion_hint: str = "", add_label: str = "Add",
                 on_change: Callable[[], None] | None = None) -> None:
        self.name = name
        self.types = dict(types)
        self.answers = dict(answers)
        self.labels = (type_label, answer_label, companion_label)
        self.companion_hint = companion_hint
        self.on_change = on_change
        self.offered: tuple[str, ...] = tuple(self.types)
        self.rows: list[tuple[w.Dropdown, w.Dropdown, w.Text, w.HTML, w.HTML]] = []
        self.box = w.VBox()
        self.add_button = button(add_label, f"b-{name}-add")
        self.add_button.on_click(lambda _: self.add_row())
        self.add_button.layout.align_self = "flex-start"  # a button, not a bar across the form
        self.widget = w.VBox([self.box, self.add_button])
        self.widget.add_class(f"f-{name}")
        self._quiet = False
        self.disabled = False
        self._draw()

    # -- reading and writing
    def entries(self) -> list[tuple[str | None, str | None, str | None]]:
        """``(type, answer, companion text)`` of each row, in order (blank -> ``None``)."""
        return [(t.value, a.value, read_text(c.value)) for t, a, c, _, _ in self.rows]

    def set_entries(self, entries: Sequence[tuple[str | None, str | None, str | None]]) -> None:
        """Replace the rows (e.g. a review is opened)."""
        self._quiet = True
        try:
            self.rows = []
            for entry in entries:
                self._new_row(*entry)
        finally:
            self._quiet = False
        self._draw()

    def add_row(self, type_id: str | None = None, answer: str | None = None,
                companion: str | None = None) -> None:
        self._new_row(type_id, answer, companion)
        self._draw()
        self._changed()

    def remove_row(self, index: int) -> None:
        del self.rows[index]
        self._draw()
        self._changed()

    def offer_types(self, allowed: Sequence[str]) -> None:
        """Offer only ``allowed`` types in new choices (a chosen type stays offered)."""
        allowed = tuple(t for t in self.types if t in set(allowed))
        if allowed == self.offered:
            return
        self.offered = allowed
        self._quiet = True
        try:
            for type_box, *_ in self.rows:
                self._set_type_options(type_box)
        finally:
            self._quiet = False

    def set_disabled(self, disabled: bool) -> None:
        """Read-only (e.g. a locked review): no change to a row, no row added or removed."""
        self.disabled = disabled
        self.add_button.disabled = disabled
        self._draw()

    def show_errors(self, index: int, messages: Sequence[str]) -> None:
        self.rows[index][3].value = "<br>".join(html.escape(m) for m in messages)

    def show_identifiers(self, index: int, message_html: str) -> None:
        self.rows[index][4].value = message_html

    # -- inside
    def _type_options(self, current: str | None) -> list[tuple[str, Any]]:
        ids = [t for t in self.types if t in self.offered or t == current]
        return choice_options({t: self.types[t] for t in ids}, blank="— type —")

    def _set_type_options(self, type_box: w.Dropdown) -> None:
        current = type_box.value
        options = self._type_options(current)
        if list(type_box.options) != options:
            type_box.options = options
            set_value(type_box, current)

    def _new_row(self, type_id: str | None, answer: str | None,
                 companion: str | None) -> None:
        type_box = dropdown(self._type_options(type_id), width="26em")
        set_value(type_box, type_id)
        answer_box = dropdown(choice_options(self.answers, blank="— status —"), width="14em")
        set_value(answer_box, answer)
        companion_box = text(self.companion_hint, width="16em")
        companion_box.value = write_text(companion)
        for widget in (type_box, answer_box, companion_box):
            widget.observe(lambda change: self._changed(), names="value")
        error, found = w.HTML(), w.HTML()
        error.add_class("sjr-error")
        error.layout = w.Layout(width="auto", flex="1 1 12em", margin="0 0 0 8px")
        self.rows.append((type_box, answer_box, companion_box, error, found))

    def _draw(self) -> None:
        children: list[w.Widget] = []
        if self.rows:
            head = "".join(f"<span style='display:inline-block;width:{width}'>"
                           f"{html.escape(text)}</span>"
                           for text, width in zip(self.labels, ("26.5em", "14.5em", "16em")))
            children.append(w.HTML(f"<span class='sjr-hint'>{head}</span>"))
        for i, (type_box, answer_box, companion_box, error, found) in enumerate(self.rows):
            for widget, part, label in ((type_box, "type", self.labels[0]),
                                        (answer_box, "value", self.labels[1]),
                                        (companion_box, "companion", self.labels[2])):
                widget._dom_classes = tuple(c for c in widget._dom_classes
                                            if not c.startswith(f"f-{self.name}-"))
                widget.add_class(f"f-{self.name}-{part}-{i}")
                label_input(widget, f"{label}, row {i + 1}")
                widget.disabled = self.disabled
            error._dom_classes = ("sjr-error", f"e-{self.name}-{i}")
            remove = button("Remove", f"b-{self.name}-remove-{i}", tooltip="Remove this row")
            remove.layout.min_width = "6em"
            remove.disabled = self.disabled
            remove.on_click(lambda _, i=i: self.remove_row(i))
            children.append(w.HBox([type_box, answer_box, companion_box, remove, error],
                                   layout=w.Layout(align_items="flex-start",
                                                   flex_flow="row wrap", margin="2px 0")))
            children.append(found)
        self.box.children = children

    def _changed(self) -> None:
        if not self._quiet and self.on_change is not None:
            self.on_change()


# ----------------------------------------------------------------------------- theme widget
class ThemeOffer(NamedTuple):
    """A theme offered to a coder: suggested for one phase's judgement (``phase`` ``None``: the
    whole review), with the model's score (0-1)."""

    theme: str
    phase: str | None
    score: float


class ThemeCode(NamedTuple):
    """A theme a coder chose: stored, or waiting (``pending``) for the review to be submitted.

    ``note`` says how it was chosen, in words for the coder ("accepted suggestion", "added by
    hand", "stored when the review is submitted")."""

    theme: str
    phase: str | None
    note: str
    pending: bool = False


ThemeChosen = Callable[[str, "str | None", bool], ThemeCode]
"""``on_code(theme, phase, from_suggestion) -> ThemeCode``: store (or hold) a person's choice;
raise ``ValueError`` or ``PermissionError`` to refuse it, with a message for the coder."""


def _phase_key(phase: str | None) -> str:
    return phase or "review"


class ThemeChooser:
    """Suggested themes with *Accept* / *Reject*, the themes chosen so far, and a theme added
    by hand from the codebook. Build it with :func:`theme_chooser`.

    The chooser stores nothing itself: *Accept* and *Add* call ``on_code`` (which stores the code
    through the governed session, or holds it until the review is submitted) and show what it
    returns; *Reject* only hides the suggestion while the chooser shows this review (a rejected
    suggestion is not recorded anywhere, it simply never becomes a code). ``on_remove`` takes
    back a pending choice (stored codes are kept).

    CSS classes for browser tests: a suggestion row ``s-<theme>-<phase|review>`` with buttons
    ``b-accept`` and ``b-reject``; a chosen theme ``c-<theme>-<phase|review>`` (``b-remove`` on a
    pending one); the hand-added choice ``f-theme-add`` and ``f-theme-phase`` with button
    ``b-theme-add``; messages ``sjr-theme-message``.
    """

    def __init__(self, themes: Sequence[Any], *, phases: dict[str, str],
                 on_code: ThemeChosen,
                 on_remove: Callable[[str, str | None], None] | None = None) -> None:
        self.themes = {t.id: t for t in themes}
        self.phases = dict(phases)
        self.on_code = on_code
        self.on_remove = on_remove
        self.offers: list[ThemeOffer] = []
        self.codes: list[ThemeCode] = []
        self.rejected: set[tuple[str, str | None]] = set()
        self.offer_box = w.VBox()
        self.offer_box.add_class("sjr-offers")
        self.code_box = w.VBox()
        self.code_box.add_class("sjr-codes")
        self.message = w.HTML()
        self.message.add_class("sjr-theme-message")
        self.add_theme = dropdown(choice_options({t.id: t.label for t in themes},
                                                 blank="— choose a theme —"), width="26em")
        self.add_theme.add_class("f-theme-add")
        label_input(self.add_theme, "Theme to add")
        self.add_phase = dropdown([("Whole review", None)]
                                  + [(f"Phase: {text}", p) for p, text in self.phases.items()],
                                  width="18em")
        self.add_phase.add_class("f-theme-phase")
        label_input(self.add_phase, "Phase the theme is for")
        self.add_button = button("Add theme", "b-theme-add",
                                 tooltip="Code this review with the chosen theme")
        self.add_button.on_click(lambda _: self.add(self.add_theme.value, self.add_phase.value))
        self.widget = w.VBox([
            w.HTML("<b>Suggested themes</b> <span class='sjr-hint'>(from the explicit "
                   "judgements; a suggestion is not a code until you accept it)</span>"),
            self.offer_box,
            w.HTML("<b>Themes you coded</b>"),
            self.code_box,
            w.HBox([w.HTML("Add a theme", layout=w.Layout(width="8em")), self.add_theme,
                    self.add_phase, self.add_button],
                   layout=w.Layout(flex_flow="row wrap", align_items="center",
                                   margin="6px 0 0 0")),
            self.message,
        ])
        self.widget.add_class("sjr-themes")
        self._draw()

    # ------------------------------------------------------------------ state from outside
    def show(self, *, offers: Sequence[ThemeOffer] | None = None,
             codes: Sequence[ThemeCode] | None = None) -> None:
        """Replace the suggestions and/or the chosen themes (e.g. after a judgement changed).

        Suggestions of a theme not in the codebook, already chosen for that phase, or rejected
        while this review is shown are left out."""
        if codes is not None:
            self.codes = list(codes)
        if offers is not None:
            self.offers = list(offers)
        self._draw()

    def clear(self) -> None:
        """Forget everything shown (another review is opened): offers, codes, rejections."""
        self.offers, self.codes, self.rejected = [], [], set()
        self.message.value = ""
        self._draw()

    # ------------------------------------------------------------------ a person's choices
    def accept(self, theme: str, phase: str | None) -> bool:
        """Accept a suggestion: it becomes a code (through ``on_code``); whether it did."""
        return self._code(theme, phase, from_suggestion=True)

    def reject(self, theme: str, phase: str | None) -> None:
        """Reject a suggestion: hidden while this review is shown, never stored."""
        self.rejected.add((theme, phase))
        self.message.value = ""
        self._draw()

    def add(self, theme: str | None, phase: str | None) -> bool:
        """Code a theme chosen by hand from the codebook; whether it was coded."""
        if theme is None:
            self.message.value = banner("error", "Choose a theme to add.")
            return False
        done = self._code(theme, phase, from_suggestion=False)
        if done:  # ready for the next one ("— choose a theme —", whole review)
            set_value(self.add_theme, None)
            set_value(self.add_phase, None)
        return done

    def remove(self, theme: str, phase: str | None) -> None:
        """Take back a pending choice (one not stored yet)."""
        if self.on_remove is not None:
            self.on_remove(theme, phase)
        self.codes = [c for c in self.codes
                      if not (c.pending and (c.theme, c.phase) == (theme, phase))]
        self._draw()

    def _code(self, theme: str, phase: str | None, *, from_suggestion: bool) -> bool:
        if any((c.theme, c.phase) == (theme, phase) for c in self.codes):
            self.message.value = banner(
                "warn", f"{html.escape(self._label(theme))} is already coded "
                f"{html.escape(self._where(phase))}.")
            return False
        try:
            code = self.on_code(theme, phase, from_suggestion)
        except (ValueError, PermissionError) as exc:
            self.message.value = banner("error", f"<b>Not coded.</b> {html.escape(str(exc))}")
            return False
        self.codes.append(code)
        self.message.value = ""
        self._draw()
        return True

    # ------------------------------------------------------------------ drawing
    def _label(self, theme: str) -> str:
        found = self.themes.get(theme)
        return found.label if found is not None else theme

    def _where(self, phase: str | None) -> str:
        return ("for the whole review" if phase is None
                else f"for the phase {self.phases.get(phase, phase).lower()}")

    def visible_offers(self) -> list[ThemeOffer]:
        """The suggestions on screen: known themes, not chosen or rejected for their phase."""
        chosen = {(c.theme, c.phase) for c in self.codes}
        return [o for o in self.offers if o.theme in self.themes
                and (o.theme, o.phase) not in chosen and (o.theme, o.phase) not in self.rejected]

    def _row(self, css: str, text_html: str, title: str, buttons: list[w.Button],
             width: str = "46em") -> w.HBox:
        text = w.HTML(f"<span title='{html.escape(title)}'>{text_html}</span>",
                      layout=w.Layout(width=width))
        row = w.HBox([text, *buttons], layout=w.Layout(align_items="center", margin="1px 0"))
        row.add_class(css)
        return row

    def _draw(self) -> None:
        rows = []
        for offer in self.visible_offers():
            key = f"{offer.theme}-{_phase_key(offer.phase)}"
            accept = button("Accept", "b-accept", style="success",
                            tooltip=f"Code {self._label(offer.theme)} {self._where(offer.phase)}")
            reject = button("Reject", "b-reject", tooltip="Not this theme")
            accept.on_click(lambda _, o=offer: self.accept(o.theme, o.phase))
            reject.on_click(lambda _, o=offer: self.reject(o.theme, o.phase))
            where = ("whole review" if offer.phase is None
                     else self.phases.get(offer.phase, offer.phase))
            row = self._row(f"s-{key}",
                            f"{html.escape(self._label(offer.theme))} "
                            f"<span class='sjr-hint'>· {html.escape(where)} · "
                            f"{min(99, round(offer.score * 100))}% likely</span>",
                            getattr(self.themes[offer.theme], "definition", ""), [accept, reject])
            row.add_class("sjr-offer")
            rows.append(row)
        if rows:
            self.offer_box.children = rows
        else:
            said = ("Every suggestion has been accepted or rejected." if self.offers else
                    "No suggestions: none of the judgements written so far points clearly to "
                    "a theme.")
            self.offer_box.children = [w.HTML(f"<span class='sjr-hint'>{said}</span>")]
        codes = []
        for code in self.codes:
            key = f"{code.theme}-{_phase_key(code.phase)}"
            buttons = []
            if code.pending:
                remove = button("Remove", "b-remove", tooltip="Take this theme back")
                remove.on_click(lambda _, c=code: self.remove(c.theme, c.phase))
                buttons.append(remove)
            where = ("whole review" if code.phase is None
                     else self.phases.get(code.phase, code.phase))
            found = self.themes.get(code.theme)
            row = self._row(f"c-{key}",
                            f"✓ {html.escape(self._label(code.theme))} "
                            f"<span class='sjr-hint'>· {html.escape(where)} · "
                            f"{html.escape(code.note)}</span>",
                            getattr(found, "definition", ""), buttons, width="auto")
            row.add_class("sjr-code")
            codes.append(row)
        self.code_box.children = codes or [w.HTML("<span class='sjr-hint'>None yet.</span>")]


def theme_offers(judgements: Sequence[tuple[str | None, str | None]]) -> list[ThemeOffer]:
    """Suggested themes for a review's judgements (``[(phase, text)]``, blank ones skipped): one
    offer per theme, at the phase whose judgement suggests it most strongly, best first
    (``sjrlib.themes.suggest_many``)."""
    from sjrlib.themes import suggest_many

    texts = [(phase, text) for phase, text in judgements if text]
    best: dict[str, ThemeOffer] = {}
    found = suggest_many([text for _, text in texts]) if texts else []
    for (phase, _), suggestions in zip(texts, found):
        for s in suggestions:
            if s.theme not in best or s.score > best[s.theme].score:
                best[s.theme] = ThemeOffer(s.theme, phase, s.score)
    return sorted(best.values(), key=lambda o: (-o.score, o.theme))


def theme_chooser(themes: Sequence[Any], *, phases: dict[str, str], on_code: ThemeChosen,
                  on_remove: Callable[[str, str | None], None] | None = None) -> ThemeChooser:
    """A :class:`ThemeChooser` for ``themes`` (the codebook's active themes: objects with
    ``id``, ``label`` and ``definition``, e.g. ``session.codebook().active``) and ``phases``
    (``{phase id: label}``, e.g. ``domain.labels("phase")``).

    ``on_code(theme, phase, from_suggestion)`` stores a person's choice and returns the
    :class:`ThemeCode` to show, e.g. ``session.code_review(review_id, theme, phase=phase,
    from_suggestion=from_suggestion)`` then ``ThemeCode(theme, phase, "accepted suggestion")``.
    Show suggestions with ``chooser.show(offers=[ThemeOffer(theme, phase, score), ...])``
    (``sjrlib.themes.suggest`` gives theme and score for one judgement). Put ``chooser.widget``
    on screen (inside an app of class ``sjr-app`` for the stylesheet)."""
    return ThemeChooser(themes, phases=phases, on_code=on_code, on_remove=on_remove)
