"""Calibration: score a round's fictional training cases, then see how you compare with the panel.

For the signed-in reviewer, :func:`calibration_page` lists their rounds; each case opens in the
ordinary review entry form in training mode
(:class:`sjrlib.dashboards.entry_training.TrainingForm`: marked *Training — not a real review*,
the summary of the fictional case, the judgement questions of the form with the form's own
rules, and themes). Answers are saved through ``Session.save_calibration_answer``, inside the
round's window: training answers, stored apart from reviews, never counted in any Learning from
Deaths figure. Once a reviewer has submitted a case they see the panel's reference beside their
answer, and their own results (exact and within-one agreement, whether they score harsher or
more lenient than the panel, the second-stage trigger, avoidability 1-3 vs 4-6, themes, change
across rounds).

An organisation lead sees their reviewers' results and the group's agreement, and who is trained
and due a refresher; the programme team sees the national distribution (quartiles of the
reviewers' agreement, the group statistics) and training capacity per region, naming no
organisation and no reviewer. Statistics: :func:`sjrlib.stats.calibration.calibration_results`.

The notebook ``notebooks/calibration.ipynb`` only calls :func:`calibration_page`.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from typing import Any

import pandas as pd

from sjrlib import domain
from sjrlib.rules import uk_today
from sjrlib.stats.descriptive import MIN_CASES_FOR_INTERVAL

__all__ = ["CALIBRATION_ROLES", "MIN_REVIEWERS_FOR_QUARTILES", "CalibrationPage",
           "calibration_page", "reference_html", "results_tables", "training_capacity"]

MIN_REVIEWERS_FOR_QUARTILES = MIN_CASES_FOR_INTERVAL
"""Fewest reviewers whose agreement the programme team's distribution gives quartiles of: no
estimate is shown on fewer than 8 cases (``shared/spec/privacy-and-disclosure.md``), and over
one reviewer the quartiles are that reviewer's own figure."""
_FEW_REVIEWERS = f"not shown: fewer than {MIN_REVIEWERS_FOR_QUARTILES} reviewers"
_ONE_REVIEWER = "not shown: one reviewer's own figure"
"""The programme team's "group's agreement" over one reviewer: not a group's, and that
reviewer's own result on a page that names no reviewer (a lead's table names it anyway)."""

_ITEM_LABELS = {**{p: domain.label("phase", p) for p in domain.PHASES},
                "avoidability": "Avoidability of death"}
_N_BOOT = 500


def _percent(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{100 * float(value):.0f}%"


def _interval(row: pd.Series) -> str:
    if pd.isna(row["estimate"]):
        why = row.get("not_estimable")
        return "not estimable" + (f" ({why})" if isinstance(why, str) and why else "")
    text = f"{row['estimate']:.2f}"
    if not pd.isna(row["ci_lower"]) and row["n_cases"] >= 8:
        text += f" ({row['ci_lower']:.2f} to {row['ci_upper']:.2f})"
    return text


def _scored_themes(codebook: Any, reference: pd.DataFrame, answers: pd.DataFrame) -> list[str]:
    """The themes whose decisions are compared: the active themes of ``codebook`` (the store's
    latest), then any it has retired that a reference or an answer still names (given before
    it was retired: retired themes stay readable, as the reports keep them), in its order."""
    from sjrlib.stats.calibration import parse_themes

    named: set[str] = set()
    for frame in (reference, answers):
        for value in frame.get("themes", ()):
            named |= parse_themes(value) or set()
    return [t.id for t in codebook.active] + [t.id for t in codebook.themes
                                              if t.retired and t.id in named]


def _results(data: dict[str, Any], codebook: Any):
    from data_access.training import calibration_frames
    from sjrlib.stats.calibration import calibration_results

    reference, answers = calibration_frames(data["cases"], data["answers"], data["rounds"])
    if not len(answers):
        return None, answers
    return calibration_results(reference, answers,
                               themes=_scored_themes(codebook, reference, answers),
                               n_boot=_N_BOOT), answers


def results_tables(data: dict[str, Any], role: str, codebook: Any
                   ) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables of a round's (or every round's) results for ``role``.

    ``data`` is ``Session.calibration_data()``'s; ``codebook`` the store's latest
    (``Session.codebook()``): its themes are the decisions compared (:func:`_scored_themes`).
    A reviewer: their own agreement with the panel
    item by item, the trigger, avoidability and themes, and change across rounds. A lead: each
    of their reviewers and the group's agreement. The programme team: the distribution of the
    reviewers' agreement and the group's agreement, naming no organisation and no reviewer.
    """
    res, answers = _results(data, codebook)
    if res is None:
        return [("No submitted answers yet", pd.DataFrame({"": ["Nothing to show: no answer "
                                                               "has been submitted."]}))]
    out: list[tuple[str, pd.DataFrame]] = []
    if role == "reviewer":
        items = res.items.assign(item=res.items["item"].map(_ITEM_LABELS))
        out.append(("Your scores against the panel's reference answers", pd.DataFrame({
            "Round": items["round_id"], "Item": items["item"], "Cases": items["n"],
            "Same score": items["exact_share"].map(_percent),
            "Within one point": items["within_one_share"].map(_percent),
            "Compared with the panel": items["direction"].fillna("")})))
        r = res.reviewers
        out.append(("Your decisions against the panel's", pd.DataFrame({
            "Round": r["round_id"],
            "Second-stage trigger (overall care 1-2) agreed": [
                f"{a} of {n}" for a, n in zip(r["trigger_agree"], r["trigger_n"], strict=True)],
            "Avoidability 1-3 vs 4-6 agreed": [
                f"{a} of {n}" for a, n in zip(r["avoidability_agree"], r["avoidability_n"],
                                             strict=True)],
            "Panel's themes you gave": r["themes_found"].map(_percent),
            "Theme decisions agreed": r["themes_share"].map(_percent)})))
        if res.change["round_number"].max() > 1:
            c = res.change
            out.append(("Your agreement across rounds", pd.DataFrame({
                "Round": c["round_id"], "Same overall score": c["exact_share"].map(_percent),
                "Within one point": c["within_one_share"].map(_percent),
                "Trigger agreed": c["trigger_share"].map(_percent)})))
        return out
    if role == "organisation_lead":
        r = res.reviewers
        out.append(("Your reviewers against the panel (overall care)", pd.DataFrame({
            "Round": r["round_id"], "Reviewer": r["reviewer_id"], "Cases": r["n_cases"],
            "Same score": r["exact_share"].map(_percent),
            "Within one point": r["within_one_share"].map(_percent),
            "Compared with the panel": r["direction"].fillna(""),
            "Trigger agreed": r["trigger_share"].map(_percent),
            "Avoidability 1-3 vs 4-6 agreed": r["avoidability_share"].map(_percent),
            "Theme decisions agreed": r["themes_share"].map(_percent)})))
    else:
        d = res.distribution()
        # no estimate on fewer than 8 cases (shared/spec/privacy-and-disclosure.md), here
        # reviewers: the quartiles of one reviewer are that reviewer's own figure
        few = (d["n_reviewers"] < MIN_REVIEWERS_FOR_QUARTILES).to_numpy(bool)

        def quartile(column: str, hidden: str = "–") -> list[str]:
            return [hidden if hide else _percent(v)
                    for v, hide in zip(d[column], few, strict=True)]
        out.append(("Reviewers' agreement with the panel: the distribution (no organisation "
                    "or reviewer named; quartiles only over "
                    f"{MIN_REVIEWERS_FOR_QUARTILES} or more reviewers)", pd.DataFrame({
                        "Round": d["round_id"], "Measure": d["measure"].map({
                            "exact_share": "Same overall score",
                            "within_one_share": "Overall within one point",
                            "trigger_share": "Second-stage trigger agreed"}),
                        "Reviewers": d["n_reviewers"], "Lower quartile": quartile("q25"),
                        "Median": quartile("median", _FEW_REVIEWERS),
                        "Upper quartile": quartile("q75")})))
    g = res.group
    g = g[g["item"].isin(["overall", "avoidability", "trigger"])]
    names = {"alpha_ordinal": "Krippendorff's alpha (ordinal)",
             "alpha_nominal": "Krippendorff's alpha (nominal)",
             "gwet_ac2_linear": "Gwet's AC2 (linear weights)", "gwet_ac1": "Gwet's AC1",
             "kappa_linear_vs_panel": "Weighted kappa against the panel",
             "kappa_vs_panel": "Kappa against the panel"}
    out.append(("The group's agreement (95% intervals on 8 or more cases)", pd.DataFrame({
        "Round": g["round_id"],
        "Item": g["item"].map({**_ITEM_LABELS, "trigger": "Second-stage trigger"}),
        "Statistic": g["statistic"].map(names).fillna(g["statistic"]),
        "Estimate": [_ONE_REVIEWER if role != "organisation_lead" and row["n_reviewers"] == 1
                     else _interval(row) for _, row in g.iterrows()],
        "Cases": g["n_cases"], "Reviewers": g["n_reviewers"]})))
    return out


def training_capacity(records: pd.DataFrame, trainers: pd.DataFrame,
                      organisations: pd.DataFrame) -> pd.DataFrame:
    """Trained reviewers and active trainers per region (national: no organisation named, no
    ranking; regions in alphabetical order)."""
    regions = organisations.set_index("organisation_code")["region"].astype(str)
    trained = records.drop_duplicates(["organisation_code", "reviewer_id"])
    per_region = trained["organisation_code"].map(regions).value_counts()
    active = trainers[trainers["active"].astype(bool)]["region"].value_counts()
    names = sorted(set(regions) | set(active.index))
    return pd.DataFrame({"Region": names,
                         "Trained reviewers": [int(per_region.get(r, 0)) for r in names],
                         "Active trainers": [int(active.get(r, 0)) for r in names]})


# ------------------------------------------------------------------------------- widgets ----
def _table_html(title: str, frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>"
                                    for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return (f'<table class="sjr-cal-table"><caption>{html.escape(title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


_CSS = """<style>
.sjr-cal-table { border-collapse: collapse; margin: 6px 0 14px; font-size: 13px; }
.sjr-cal-table caption { text-align: left; font-weight: bold; padding: 4px 0; }
.sjr-cal-table th, .sjr-cal-table td { border-bottom: 1px solid #d8dde0; padding: 3px 8px;
  text-align: left; }
.sjr-cal-table thead th { background: #f0f4f5; }
</style>"""


def reference_html(case: Any, answer: Mapping[str, Any] | None = None,
                   theme_labels: Mapping[str, str] | None = None) -> str:
    """The panel's reference answers to a case beside the reviewer's ``answer`` (a row of
    ``Session.calibration_answers``), as a table; empty until the reviewer has submitted
    (``Session.training_cases(reference=True)`` gives the reference only then)."""
    if "overall" not in case.scores:
        return ""
    answer = answer or {}
    themes = dict(theme_labels or {})

    def given(value: Any) -> bool:
        return value is not None and not pd.isna(value)

    def score(value: Any, vocabulary: str) -> str:
        if not given(value):
            return "not applicable" if vocabulary == "care_score" else "not given"
        return f"{int(value)} {domain.label(vocabulary, int(value))}"

    def problems(found: Mapping[str, str]) -> str:
        return "; ".join(f"{domain.label('problem_type', k).split(' (')[0]}: harm "
                         f"{domain.label('harm', v).lower()}" for k, v in found.items()) or "none"

    rows = [(domain.label("phase", p),
             score(case.scores.get(p), "care_score"),
             score(answer.get(domain.score_column(p)), "care_score"))
            for p in domain.PHASES if p in case.scores or given(answer.get(domain.score_column(p)))]
    rows.append(("Problems in care", problems(case.problems),
                 problems(answer.get("problems") or {})))
    rows.append(("Avoidability", score(case.avoidability, "avoidability_score"),
                 score(answer.get("avoidability_score"), "avoidability_score")))
    rows.append(("Themes", ", ".join(themes.get(t, t) for t in case.themes) or "none",
                 ", ".join(themes.get(t, t) for t in answer.get("themes") or ()) or "none"))
    return _table_html(f"The panel's reference answers to {case.case_id}, beside yours",
                       pd.DataFrame(rows, columns=["", "Panel", "Your answer"]))


class CalibrationPage:
    """The calibration dashboard of one signed-in user (see the module docstring)."""

    def __init__(self, session: Any, *, today: dt.date | None = None) -> None:
        import ipywidgets as w

        self.session = session
        self.today = today or uk_today()
        self.form: Any = None  # the entry form in training mode (reviewers), built on first use
        self.results = w.HTML()
        self.results.add_class("cal-results")
        self.form_box = w.VBox()
        self.reference = w.HTML()
        self.reference.add_class("cal-reference")
        self.round = w.Dropdown(description="Round", layout=w.Layout(width="520px"))
        self.round.add_class("cal-round")
        self.case = w.Dropdown(description="Case", layout=w.Layout(width="520px"))
        self.case.add_class("cal-case")
        self.header = w.HTML()
        parts: list[Any] = [w.HTML(_CSS), self.header]
        if session.role == "reviewer":
            parts += [w.HTML("<p>Choose a round and one of its fictional cases, and score it in "
                             "the review form below, marked as training.</p>"),
                      w.HBox([self.round, self.case]), self.form_box, self.reference]
        self.extra = w.HTML()
        self.extra.add_class("cal-training")
        parts += [w.HTML("<h3>Results</h3>"), self.results, self.extra]
        if session.role == "programme_team":
            parts.append(self._directory_widgets())
        self.widget = w.VBox(parts)
        self.widget.add_class("sjr-calibration")
        self._quiet = False  # options being set: not a person's choice
        self.round.observe(lambda _: self._quiet or self._round_changed(), names="value")
        self.case.observe(lambda _: self._quiet or self._case_changed(), names="value")
        self._codebook: Any = None  # the store's latest, read when the form is first built

    def _themes(self, *, active: bool) -> list[tuple[str, str]]:
        """``(id, label)`` of the store's latest codebook: the themes an answer may name
        (``active``: not retired, as ``Session.save_calibration_answer`` accepts them), or
        every theme (to label the panel's reference: a retired one marked "(retired)", as
        the reports mark it)."""
        from sjrlib.measures import theme_label

        themes = self._book().active if active else self._book().themes
        return [(t.id, theme_label(self._book(), t.id)) for t in themes]

    def _book(self) -> Any:
        """The store's latest codebook, read through the session once per page."""
        if self._codebook is None:
            self._codebook = self.session.codebook()
        return self._codebook

    def read(self) -> None:
        """Read the rounds, the results and (leads, programme team) the training records."""
        role = self.session.role
        who = {"reviewer": "your own answers", "organisation_lead": "your organisation's "
               "reviewers", "programme_team": "every reviewer, naming no organisation or "
               "reviewer"}.get(role, "")
        self.header.value = (f"<h2>Calibration against the panel</h2><p>Signed in as "
                             f"{html.escape(self.session.user)}: results of {who}.</p>")
        if role == "reviewer":
            rounds = self.session.calibration_rounds()
            self._rounds = {r.round_id: r for r in rounds.itertuples()}
            options = [(f"{r.name} ({r.opens_on:%d %b} to {r.closes_on:%d %b %Y})"
                        + ("" if r.opens_on <= self.today <= r.closes_on else ", closed"),
                        r.round_id) for r in rounds.itertuples()]
            self._quiet = True
            self.round.options = options
            if options:
                opened = [v for _, v in options
                          if self._rounds[v].opens_on <= self.today <= self._rounds[v].closes_on]
                self.round.value = opened[0] if opened else options[0][1]
            self._quiet = False
            if options:
                self._round_changed()
            else:
                self.form_box.children = [_html("You are not in any calibration round yet.")]
        self.refresh_results()
        if role == "organisation_lead":
            from sjrlib.commands.training import refresher_status

            status = refresher_status(self.session.training_records(), self.today)
            self.extra.value = _table_html(
                "Training: who is trained and who is due a refresher",
                status.rename(columns={"organisation_code": "Organisation",
                                       "reviewer_id": "Reviewer", "trained_on": "Trained",
                                       "last_training": "Last training or refresher",
                                       "due_refresher": "Due a refresher"}))
            self.extra.value += self._drift()
        elif role == "programme_team":
            trainers = self.session.trainers()
            capacity = training_capacity(self.session.training_records(), trainers,
                                         self.session.organisations())
            self.extra.value = _table_html("Training capacity by region (no organisation named)",
                                           capacity)
            self._show_directory(trainers)

    # -- the trainer directory, maintained by the programme team --------------------------
    def _directory_widgets(self) -> Any:
        import ipywidgets as w

        self.directory = w.HTML()
        self.directory.add_class("cal-directory")
        self.upload = w.FileUpload(accept=".csv", multiple=False,
                                   description="Choose trainers CSV")
        self.upload.add_class("cal-upload")
        self.import_button = w.Button(description="Import trainers")
        self.import_button.add_class("cal-import")
        self.import_message = w.HTML()
        self.import_message.add_class("cal-import-message")
        self.import_button.on_click(lambda _: self._import_upload())
        return w.VBox([w.HTML("<h3>Trainer directory</h3><p>Columns: trainer_id, name, "
                              "contact, organisation, region, trained_on, active. A file is "
                              "checked whole before anything is stored.</p>"),
                       w.HBox([self.upload, self.import_button]), self.import_message,
                       self.directory])

    def _show_directory(self, trainers: pd.DataFrame) -> None:
        shown = trainers.assign(active=trainers["active"].map({True: "yes", False: "no"}))
        self.directory.value = _table_html(f"{len(shown)} trainer(s)", shown)

    def import_trainers_csv(self, content: bytes, name: str) -> bool:
        """Import a trainers CSV (programme team) and show the directory again."""
        import tempfile
        from pathlib import Path

        from data_access import AccessDenied
        from data_access.training import TrainingDataError, read_training_file

        try:
            # Read as the command line reads a file (row numbers as a spreadsheet counts
            # them); the upload keeps its own name, so errors name the person's file.
            with tempfile.TemporaryDirectory(prefix="sjr-upload-") as folder:
                path = Path(folder) / (Path(name).name or "trainers.csv")
                path.write_bytes(content)
                frame, rows = read_training_file(path)
            new, updated = self.session.import_trainers(frame, source=name, rows=rows)
        except (AccessDenied, TrainingDataError, ValueError) as exc:
            self.import_message.value = ("<b>Not imported.</b><br>"
                                         + html.escape(str(exc)).replace("\n", "<br>"))
            return False
        self.import_message.value = (f"<b>Imported {html.escape(name)}</b>: {new} new, "
                                     f"{updated} updated, {len(frame) - new - updated} "
                                     "unchanged.")
        self._show_directory(self.session.trainers())
        return True

    def _import_upload(self) -> None:
        if not self.upload.value:
            self.import_message.value = "Choose a CSV file first."
            return
        item = self.upload.value[0]
        self.import_trainers_csv(bytes(item["content"]), str(item["name"]))

    def _drift(self) -> str:
        """For the lead only: who scores real reviews systematically harsher or more lenient
        than co-reviewers of the same cases (a prompt for calibration, never a judgement of
        performance), from the organisation's double-reviewed cases."""
        from sjrlib.stats.drift import reviewer_drift

        drift = reviewer_drift(self.session.reviews())
        out = ("<h4>Scoring in real reviews: a prompt for calibration</h4>"
               f'<p class="cal-drift-note">{html.escape(drift.note)}</p>')
        if len(drift.table):
            t = drift.table
            out += _table_html("Reviewers with enough double-reviewed cases", pd.DataFrame({
                "Reviewer": t["reviewer_id"], "Pairs": t["n_pairs"],
                "Difference (points)": [f"{e:+.2f} ({lo:+.2f} to {hi:+.2f})" for e, lo, hi in
                                        zip(t["effect"], t["ci_lower"], t["ci_upper"],
                                            strict=True)],
                "Reading": t["wording"]}))
        return out

    def refresh_results(self) -> None:
        tables = results_tables(self.session.calibration_data(), self.session.role,
                                self._book())
        self.results.value = "".join(_table_html(t, f) for t, f in tables)

    def _round_changed(self) -> None:
        round_id = self.round.value
        if round_id is None:
            return
        cases = {c.case_id: c for c in self.session.training_cases(
            list(self._rounds[round_id].case_ids))}
        self._cases = cases
        self._case_options(round_id)
        self._case_changed()

    def _case_options(self, round_id: str) -> None:
        """The round's cases, each with how far this reviewer got with it."""
        answers = self.session.calibration_answers(round_id)
        status = dict(zip(answers["case_id"], answers["status"], strict=True))
        said = {"draft": " (draft)", "submitted": " (submitted)"}
        options = [(f"{c.case_id}: {c.title}{said.get(status.get(c.case_id), '')}", c.case_id)
                   for c in self._cases.values()]
        current = self.case.value if self.case.value in self._cases else None
        self._quiet = True
        self.case.options = options
        self.case.value = current or (options[0][1] if options else None)
        self._quiet = False

    def _case_changed(self) -> None:
        from sjrlib.dashboards.entry_training import TrainingForm

        round_id, case_id = self.round.value, self.case.value
        if round_id is None or case_id is None:
            return
        answers = self.session.calibration_answers(round_id)
        mine = answers[answers["case_id"] == case_id]
        stored = None if mine.empty else mine.iloc[0].to_dict()
        if self.form is None:
            self.form = TrainingForm(self.session, themes=self._themes(active=True),
                                     today=self.today, on_saved=self._saved)
            self.form_box.children = [self.form.widget]
        self.form.today = self.today
        self.form.open_case(self._rounds[round_id], self._cases[case_id], stored)
        self.reference.value = ""
        if stored is not None and stored.get("status") == "submitted":
            self._show_reference(case_id, stored)

    def _show_reference(self, case_id: str, answer: dict[str, Any]) -> None:
        self.reference.value = reference_html(
            self.session.training_cases([case_id], reference=True)[0], answer,
            dict(self._themes(active=False)))

    def _saved(self, submitted: bool) -> None:
        self._case_options(self.round.value)
        if submitted:
            answers = self.session.calibration_answers(self.round.value)
            mine = answers[answers["case_id"] == self.case.value]
            self._show_reference(self.case.value, mine.iloc[0].to_dict())
            self.refresh_results()


def _html(text: str) -> Any:
    import ipywidgets as w

    return w.HTML(f"<p>{html.escape(text)}</p>")


CALIBRATION_ROLES = frozenset({"reviewer", "organisation_lead", "programme_team"})


def calibration_page(user: str | None = None, db: str | None = None) -> Any:
    """The calibration app for the notebook: the signed-in user's governed session and page,
    or one sentence for a user it is not for."""
    import ipywidgets as w

    from data_access import AccessDenied, open_session
    from sjrlib.dashboards import _widgets as ui

    try:
        session = open_session(user=user, db=db, tool="voila:calibration")
    except AccessDenied as exc:
        return w.VBox([ui.style(), ui.section("Calibration unavailable", _html(str(exc)))])
    if session.role not in CALIBRATION_ROLES:
        who = str(session.role).replace("_", " ")
        session.close()
        return w.VBox([ui.style(), ui.section("Calibration unavailable", _html(
            f"Calibration is for reviewers, organisation leads and the programme team; "
            f"{session.user} is signed in as {who}."))])
    from sjrlib.dashboards.serve import wait_for_page

    page = CalibrationPage(session)
    wait_for_page()  # in a pre-heated kernel: read what is current when the page is asked for
    page.today = uk_today()
    page.read()
    notice = ui.demo_sign_in(session)
    return page.widget if notice is None else w.VBox([notice, page.widget])
