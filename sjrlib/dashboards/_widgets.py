"""Small building blocks shared by the dashboards: a labelled field row with its error beside it.

Every widget gets a CSS class (``f-<column>``) so that browser tests and people's own scripts can
find it; the error label beside it gets ``e-<column>``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
</style>
"""


def style() -> w.HTML:
    """The stylesheet of the dashboards, as a widget to put first in the app."""
    return w.HTML(STYLE_CSS)


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

    def __post_init__(self) -> None:
        self.widget.add_class(f"f-{self.column}")
        self.error.add_class(f"e-{self.column}")
        self.error.add_class("sjr-error")
        self.error.layout = w.Layout(width="auto", flex="1 1 16em", margin="0 0 0 8px")
        if self.row is None:
            label = w.HTML(html.escape(self.label), layout=w.Layout(width=LABEL_WIDTH,
                                                                    flex="0 0 auto"))
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
