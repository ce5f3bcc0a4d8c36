"""The coding dashboard: an organisation lead codes themes on their organisation's reviews (Voila).

A queue of the submitted (and locked) reviews of the lead's organisation that nobody has coded
yet; for the review at the head of the queue, its explicit judgements, the themes suggested from
them (``sjrlib.themes.suggest_many``) to accept or reject with one click, and a theme added by
hand from the store's codebook, optionally for one phase. Every read and every code goes through
the governed session (``Session.reviews``, ``theme_codes``, ``codebook``, ``code_review``), so it
is scoped to the lead's organisation and audited. A suggestion is stored only when the lead
accepts it (``from_suggestion=True``); a theme added by hand is stored with
``from_suggestion=False``; a rejected or ignored suggestion is stored nowhere.

A second tab, *Actions* (:mod:`sjrlib.dashboards.action_register`), records what the
organisation does about the learning, linked to themes and reviews (the review being coded in
one tick), with a measure whose SPC chart shows the impact.

Keyboard: every control is a real button or select in tab order; Enter presses the focused
button (so Enter on *Accept* accepts that suggestion), and ``N`` goes to the next review. When a
review opens, or the focused suggestion is accepted or rejected, the focus moves to the next
suggestion's *Accept* (:data:`KEYBOARD_SCRIPT`).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import pandas as pd

from sjrlib import domain
from sjrlib.dashboards import _widgets as ui

__all__ = ["CODING_ROLES", "KEYBOARD_SCRIPT", "Coder", "coding", "queue_order"]

CODING_ROLES: frozenset[str] = frozenset({"organisation_lead"})
"""Roles the coding dashboard is for (reviewers code their own reviews in the entry form)."""
CODED_STATUSES: tuple[str, ...] = ("submitted", "locked")
"""Reviews that may be coded (``Session.code_review``): drafts are not."""
_READ_COLUMNS: tuple[str, ...] = (
    "review_id", "case_id", "review_stage", "status", "review_date", "death_month",
    "specialty", *(domain.score_column(p) for p in domain.PHASES),
    *(domain.comment_column(p) for p in domain.PHASES))

KEYBOARD_SCRIPT = """
<script>
(function () {
  if (window.sjrCodingKeys) { return; }
  window.sjrCodingKeys = true;
  var app = function () { return document.querySelector('.sjr-coding'); };
  var typing = function (el) {
    return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' ||
                  el.tagName === 'SELECT' || el.isContentEditable);
  };
  var focusFirst = function () {
    var root = app(); if (!root) { return; }
    var queue = root.querySelector('.v-coding');
    if (!queue || queue.offsetParent === null) { return; }  // another tab is on screen
    var target = root.querySelector('.sjr-offers .b-accept') ||
                 root.querySelector('.b-next-review');
    if (target) { target.focus(); }
  };
  document.addEventListener('keydown', function (e) {
    if (!app() || e.altKey || e.ctrlKey || e.metaKey || typing(e.target)) { return; }
    var queue = app().querySelector('.v-coding');
    if (!queue || queue.offsetParent === null) { return; }  // another tab is on screen
    if (e.key === 'n' || e.key === 'N') {
      var next = queue.querySelector('.b-next-review');
      if (next && !next.disabled) { e.preventDefault(); next.click(); }
    }
  });
  // Widgets render a moment after the kernel's update arrives, in several steps: move the
  // focus once the page has been quiet for a moment, not at the first change.
  var shown = null, inside = false, pending = false, timer = null;
  document.addEventListener('focusin', function (e) {
    var root = app(); inside = !!(root && root.contains(e.target));
  });
  new MutationObserver(function () {
    var root = app(); if (!root) { return; }
    var id = root.querySelector('.sjr-review-id');
    var now = id ? id.textContent : null;
    var lost = !document.activeElement || document.activeElement === document.body;
    if (now !== shown) { shown = now; pending = true; }
    else if (lost && inside) { pending = true; }
    if (pending) {
      clearTimeout(timer);
      timer = setTimeout(function () { pending = false; focusFirst(); }, 150);
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
})();
</script>
"""
"""Keyboard help for the page (displayed by :func:`coding` beside the widgets: a script in a
widget's HTML is not run). ``N`` presses *Next review* unless the person is typing or choosing
in a field; focus goes to the first suggestion's *Accept* when a review opens, and again when
the focused button disappears (accepted or rejected), so Enter, Enter, ... accepts in turn and
Tab then Enter rejects."""


def queue_order(reviews: pd.DataFrame, coded: set[str]) -> list[str]:
    """Review ids waiting to be coded, the most recent review first (then by id): the reviews
    in ``reviews`` with no code in ``coded``. Newest first because what is learnt now is
    acted on now, and the themes of the current period are what the trust report shows."""
    waiting = reviews[~reviews["review_id"].isin(list(coded))]
    waiting = waiting.sort_values(["review_date", "review_id"], ascending=[False, True],
                                  na_position="last")
    return [str(r) for r in waiting["review_id"]]


class Coder:
    """The coding queue of one organisation lead, on a governed session.

    Parameters
    ----------
    session
        An open ``data_access`` session of an organisation lead.

    Attributes
    ----------
    queue : list of str
        Review ids waiting to be coded, the one shown first.
    review_id : str or None
        The review shown (``None``: the queue is empty).
    chooser : sjrlib.dashboards._widgets.ThemeChooser
        Suggestions, codes and the theme added by hand, for the review shown.
    actions : sjrlib.dashboards.action_register.ActionRegister
        The actions tab.
    widget : ipywidgets.VBox
        The dashboard, to display (CSS class ``sjr-coding``).
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.phases = domain.labels("phase")
        self.codebook = session.codebook()
        self.review_id: str | None = None
        self.coded_here: dict[str, int] = {}
        self.skipped: list[str] = []
        self._build()
        self.read()

    # ----------------------------------------------------------------------------- data
    def read(self) -> None:
        """Read the organisation's codable reviews and the codes on them (audited), rebuild
        the queue and show its first review."""
        self.reviews = self.session.reviews(status=list(CODED_STATUSES),
                                            columns=list(_READ_COLUMNS))
        self.reviews = self.reviews.set_index("review_id", drop=False).rename_axis(None)
        self._read_codes()
        self.skipped = []
        self.queue = queue_order(self.reviews, self.coded)
        self.open(self.queue[0] if self.queue else None)

    def _read_codes(self) -> None:
        codes = self.session.theme_codes()
        self.coded = set(codes["review_id"].astype(str))

    @property
    def total(self) -> int:
        """Reviews that may be coded (submitted or locked)."""
        return len(self.reviews)

    @property
    def done(self) -> int:
        """Of those, reviews with at least one theme code (by anyone)."""
        return len(self.coded & set(self.reviews["review_id"].astype(str)))

    def open(self, review_id: str | None) -> None:
        """Show one review of the queue (``None``: nothing left to code)."""
        self.review_id = review_id
        self.chooser.rejected = set()  # as chooser.clear(), without drawing an empty chooser
        self.chooser.message.value = ""
        self.message.value = ""
        if review_id is None:
            self.review_box.children = [w.HTML(ui.banner(
                "ok", f"<b>Nothing waiting.</b> Every submitted review of "
                f"{html.escape(self._organisation())} has been coded."))]
            self.chooser.show(offers=[], codes=[])
            self.chooser.widget.layout.display = "none"
            self.next_button.disabled = True
        else:
            row = self.reviews.loc[review_id]
            self.chooser.show(offers=self._offers(row), codes=[])
            self.chooser.widget.layout.display = ""
            self.next_button.disabled = False
            self.review_box.children = [w.HTML(self._review_html(row))]
        self._progress()

    def next_review(self) -> None:
        """Leave the review shown: coded, it leaves the queue; not coded, it goes to the back
        of the queue (skipped for now). Codes given by others since are read again."""
        current = self.review_id
        self._read_codes()
        if current is not None and current not in self.coded:
            self.skipped.append(current)
        waiting = [r for r in self.queue if r not in self.coded and r != current
                   and r not in self.skipped]
        self.queue = waiting + [r for r in self.skipped if r not in self.coded]
        self.open(self.queue[0] if self.queue else None)

    def _code(self, theme: str, phase: str | None, from_suggestion: bool) -> ui.ThemeCode:
        """The chooser's ``on_code``: store a person's choice through the governed session."""
        if self.review_id is None:  # pragma: no cover - the chooser is hidden then
            raise ValueError("no review is open")
        self.session.code_review(self.review_id, theme, phase=phase,
                                 from_suggestion=from_suggestion)
        self.coded.add(self.review_id)
        self.coded_here[self.review_id] = self.coded_here.get(self.review_id, 0) + 1
        self._progress()
        how = "accepted suggestion" if from_suggestion else "added by hand"
        return ui.ThemeCode(theme, phase, f"{how} · stored")

    def _current_review(self) -> tuple[str | None, list[str]]:
        """The review shown and the themes coded on it here, for the actions tab's link."""
        if self.review_id is None:
            return None, []
        return self.review_id, [c.theme for c in self.chooser.codes]

    # ----------------------------------------------------------------------------- drawing
    def _organisation(self) -> str:
        return ", ".join(self.session.organisation_codes or ())

    def _offers(self, row: pd.Series) -> list[ui.ThemeOffer]:
        """One suggestion per theme, at the phase whose judgement suggests it most strongly."""
        from sjrlib.themes import suggest_many

        texts = [(p, _plain(row.get(domain.comment_column(p)))) for p in domain.PHASES]
        texts = [(p, t) for p, t in texts if t]
        best: dict[str, ui.ThemeOffer] = {}
        for (phase, _), found in zip(texts, suggest_many([t for _, t in texts]) if texts
                                     else []):
            for s in found:
                if s.theme not in best or s.score > best[s.theme].score:
                    best[s.theme] = ui.ThemeOffer(s.theme, phase, s.score)
        return sorted(best.values(), key=lambda o: -o.score)

    def _review_html(self, row: pd.Series) -> str:
        stage = domain.label("review_stage", row["review_stage"]) \
            if _plain(row["review_stage"]) else ""
        facts = [f"Review <b class='sjr-review-id'>{html.escape(str(row['review_id']))}</b>",
                 f"case {html.escape(str(_plain(row['case_id']) or '—'))}",
                 html.escape(stage.lower() if stage else "")]
        if _plain(row["death_month"]):
            died = pd.Timestamp(f"{row['death_month']}-01").strftime("%B %Y")
            facts.append(f"died {html.escape(died)}")
        if _plain(row["specialty"]):
            facts.append(html.escape(str(row["specialty"]).replace("_", " ")))
        rows = []
        for phase in domain.PHASES:
            comment = _plain(row.get(domain.comment_column(phase)))
            score = _plain(row.get(domain.score_column(phase)))
            if comment is None and score is None:
                continue
            said = (f"{int(score)} · {html.escape(domain.label('care_score', int(score)))}"
                    if score is not None else "not scored")
            rows.append(
                f"<tr class='j-{phase}'><th>{html.escape(self.phases[phase])}</th>"
                f"<td class='sjr-score'>{said}</td>"
                f"<td class='sjr-judgement'>{html.escape(comment or '(no judgement written)')}"
                "</td></tr>")
        table = ("<table class='sjr-table sjr-judgements'><caption>Explicit judgements"
                 "</caption><tr><th>Phase of care</th><th>Care score</th><th>Judgement</th>"
                 "</tr>" + "".join(rows) + "</table>") if rows else \
            "<p class='sjr-note'>No judgement written in this review.</p>"
        return (f"<div class='sjr-review-head'>{' · '.join(f for f in facts if f)}</div>"
                + table)

    def _progress(self) -> None:
        total, done = self.total, self.done
        waiting = len([r for r in self.queue if r not in self.coded])
        self.progress_bar.max = max(total, 1)
        self.progress_bar.value = done
        mine = sum(1 for n in self.coded_here.values() if n)
        position = ""
        if self.review_id is not None and self.review_id in self.queue:
            position = (f" · showing review {self.queue.index(self.review_id) + 1:,} of "
                        f"{len(self.queue):,} in the queue")
        self.progress.value = (
            f"<b>{done:,} of {total:,}</b> submitted reviews coded · {waiting:,} waiting"
            f"{position} · {mine} coded by you in this sitting")

    def _build(self) -> None:
        self.progress = w.HTML()
        self.progress.add_class("sjr-progress")
        self.progress_bar = w.IntProgress(value=0, min=0, max=1,
                                          layout=w.Layout(width="22em"))
        self.progress_bar.add_class("sjr-progress-bar")
        self.review_box = w.VBox()
        self.review_box.add_class("sjr-review")
        self.chooser = ui.theme_chooser(self.codebook.active, phases=self.phases,
                                        on_code=self._code)
        for box in (self.chooser.add_theme, self.chooser.add_phase):
            box.observe(_show_blank, names="index")
        self.message = w.HTML()
        self.next_button = ui.button("Next review (N)", "b-next-review", style="primary",
                                     tooltip="Go to the next review in the queue (key N). A "
                                             "review you coded leaves the queue; one you did "
                                             "not code goes to its back.")
        self.next_button.on_click(lambda _: self.next_review())
        self.reload_button = ui.button("Read the queue again", "b-reload-queue",
                                       tooltip="Include reviews submitted since the page opened")
        self.reload_button.on_click(lambda _: self.read())
        keys = w.HTML(
            "<span class='sjr-hint'>Keys: <b>Tab</b> moves between the buttons, <b>Enter</b> "
            "presses the one focused (on a suggestion's <b>Accept</b>: accept it), <b>N</b> "
            "next review. Each theme you accept or add is stored at once, in your name, under "
            f"codebook {html.escape(self.codebook.version)}; a suggestion you reject or leave "
            "is stored nowhere.</span>")
        self.coding_tab = w.VBox([
            w.HBox([self.progress_bar, self.progress],
                   layout=w.Layout(align_items="center", flex_flow="row wrap")),
            self.review_box,
            self.chooser.widget,
            self.message,
            w.HBox([self.next_button, self.reload_button],
                   layout=w.Layout(margin="10px 0 0 0")),
            keys,
        ])
        self.coding_tab.add_class("v-coding")
        from sjrlib.dashboards.action_register import ActionRegister

        self.actions = ActionRegister(self.session, self.codebook, self._current_review)
        self.tabs = w.Tab(children=[self.coding_tab, self.actions.widget])
        self.tabs.set_title(0, "Coding queue")
        self.tabs.set_title(1, "Actions")
        self.tabs.observe(lambda change: self.actions.refresh_link(), names="selected_index")
        self.tabs.add_class("sjr-tabs")
        head = w.HTML(
            "<h2 style='margin:4px 0'>Code the themes of your reviews</h2>"
            f"<div class='sjr-hint'>Signed in as <b>{html.escape(str(self.session.user))}</b>"
            f" · organisation lead of {html.escape(self._organisation())} · submitted and "
            "locked reviews not yet coded, newest first.</div>")
        self.widget = w.VBox([ui.style(), w.HTML(_CSS), head, self.tabs])
        self.widget.add_class("sjr-app")
        self.widget.add_class("sjr-coding")


_CSS = """
<style>
.sjr-coding .sjr-review-head { font-size: 15px; margin: 8px 0 2px 0; }
.sjr-coding table.sjr-judgements { font-size: 14px; width: 100%; }
.sjr-coding table.sjr-judgements th { white-space: nowrap; vertical-align: top; }
.sjr-coding table.sjr-judgements td.sjr-score { white-space: nowrap; vertical-align: top; }
.sjr-coding table.sjr-judgements td.sjr-judgement { line-height: 1.45; }
.sjr-coding .sjr-themes { border-top: 1px solid #d8dde0; margin-top: 6px; padding-top: 6px; }
.sjr-app.sjr-coding button.jupyter-button:focus, .sjr-app.sjr-coding select:focus,
.sjr-app.sjr-coding input:focus, .sjr-app.sjr-coding textarea:focus {
    outline: 3px solid #ffb81c !important; outline-offset: 0 !important;
    box-shadow: 0 0 0 5px #212b32 !important; }
</style>
"""


def _show_blank(change: dict) -> None:
    """Keep a dropdown reset to its blank first option showing it. ipywidgets turns a value of
    ``None`` into "no selection" (index ``None``, an empty box on screen), so the chooser's
    reset after *Add theme* would leave both boxes empty; the blank option is selected again
    (its value is already ``None``, so this sticks)."""
    box = change["owner"]
    if change["new"] is None and box.options and box.options[0][1] is None:
        box.index = 0


def _plain(value: Any) -> Any:
    """``None`` for a missing value (``pd.NA``, ``NaN``, blank text), else the value."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _refusal(title: str, sentence: str) -> w.Widget:
    box = w.VBox([ui.style(), ui.section(title, w.HTML(html.escape(sentence)))])
    box.add_class("sjr-app")
    box.add_class("sjr-refused")
    return box


def coding(user: str | None = None, db: str | None = None,
           keyboard: bool = True) -> w.Widget:
    """The coding app for the notebook: opens the governed session for the signed-in user and
    returns the dashboard, or a clear sentence for a user it is not for."""
    from data_access import AccessDenied, open_session

    try:
        session = open_session(user=user, db=db, tool="voila:coding")
    except AccessDenied as exc:
        return _refusal("Coding unavailable", str(exc))
    if session.role not in CODING_ROLES:
        who = str(session.role).replace("_", " ")
        session.close()
        return _refusal("Coding unavailable",
                        f"Theme coding is for organisation leads, on their own organisation's "
                        f"reviews; {session.user} is signed in as {who}. "
                        + _ELSEWHERE.get(str(session.role), ""))
    from sjrlib.dashboards.serve import wait_for_page
    from sjrlib.themes.suggest import current_model

    current_model()  # trained or loaded before the page is asked for (a pre-heated kernel)
    try:
        coder = Coder(session)
    except ValueError as exc:  # e.g. no codebook in the store yet
        return _refusal("Coding unavailable", f"{exc}.")
    if wait_for_page():  # built in advance: read the queue as it is now
        coder.read()
    if keyboard:
        from IPython.display import HTML, display

        display(HTML(KEYBOARD_SCRIPT))
    notice = ui.demo_sign_in(session)
    return coder.widget if notice is None else w.VBox([notice, coder.widget])


_ELSEWHERE: dict[str, str] = {
    "reviewer": "Reviewers code themes on their own second-stage reviews in the review entry "
                "form.",
    "researcher": "Researchers work from the extracts their approval releases.",
    "programme_team": "The programme team edits the codebook (sjr themes codebook).",
}
