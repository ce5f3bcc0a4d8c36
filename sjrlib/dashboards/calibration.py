"""Calibration: score a round's fictional training cases, then see how you compare with the panel.

For the signed-in reviewer, :func:`calibration_page` lists their open rounds; each case opens in
a scoring form marked **training** (the summary of the fictional case, a care score and explicit
judgement for each phase that applies, problems in care with harm, avoidability and themes).
Answers are saved through ``Session.save_calibration_answer``: training answers, stored apart
from reviews, never counted in any Learning from Deaths figure. Once a reviewer has submitted a
case they see the panel's reference beside their answer, and their own results (exact and
within-one agreement, whether they score harsher or more lenient than the panel, the
second-stage trigger, avoidability 1-3 vs 4-6, themes, change across rounds).

An organisation lead sees their reviewers' results and the group's agreement, and who is trained
and due a refresher; the programme team sees the national distribution (quartiles of the
reviewers' agreement, the group statistics) and training capacity per region, naming no
organisation and no reviewer. Statistics: :func:`sjrlib.stats.calibration.calibration_results`.

The notebook ``notebooks/calibration.ipynb`` only calls :func:`calibration_page`.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from sjrlib import domain

__all__ = ["CALIBRATION_ROLES", "CalibrationForm", "CalibrationPage", "calibration_page",
           "results_tables", "training_capacity"]

_ITEM_LABELS = {**{p: domain.label("phase", p) for p in domain.PHASES},
                "avoidability": "Avoidability of death"}
_N_BOOT = 500


def _percent(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{100 * float(value):.0f}%"


def _interval(row: pd.Series) -> str:
    if pd.isna(row["estimate"]):
        return "not estimable"
    text = f"{row['estimate']:.2f}"
    if not pd.isna(row["ci_lower"]) and row["n_cases"] >= 8:
        text += f" ({row['ci_lower']:.2f} to {row['ci_upper']:.2f})"
    return text


def _results(data: dict[str, Any]):
    from data_access.training import calibration_frames
    from sjrlib.stats.calibration import calibration_results
    from sjrlib.themes.codebook import shipped_codebook

    reference, answers = calibration_frames(data["cases"], data["answers"], data["rounds"])
    if not len(answers):
        return None, answers
    return calibration_results(reference, answers, themes=list(shipped_codebook().ids),
                               n_boot=_N_BOOT), answers


def results_tables(data: dict[str, Any], role: str) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables of a round's (or every round's) results for ``role``.

    ``data`` is ``Session.calibration_data()``'s. A reviewer: their own agreement with the panel
    item by item, the trigger, avoidability and themes, and change across rounds. A lead: each
    of their reviewers and the group's agreement. The programme team: the distribution of the
    reviewers' agreement and the group's agreement, naming no organisation and no reviewer.
    """
    res, answers = _results(data)
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
        out.append(("Reviewers' agreement with the panel: the distribution (no organisation "
                    "or reviewer named)", pd.DataFrame({
                        "Round": d["round_id"], "Measure": d["measure"].map({
                            "exact_share": "Same overall score",
                            "within_one_share": "Overall within one point",
                            "trigger_share": "Second-stage trigger agreed"}),
                        "Reviewers": d["n_reviewers"], "Lower quartile": d["q25"].map(_percent),
                        "Median": d["median"].map(_percent),
                        "Upper quartile": d["q75"].map(_percent)})))
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
        "Estimate": [_interval(row) for _, row in g.iterrows()],
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
.sjr-training-mark { background: #fff4e5; border: 2px solid #ed8b00; padding: 6px 10px;
  font-weight: bold; margin: 4px 0; }
.sjr-cal-summary { background: #f0f4f5; border-left: 6px solid #005eb8; padding: 8px 12px;
  max-width: 820px; }
</style>"""


class CalibrationForm:
    """The judgement part of the SJR form for one fictional training case, saving a training
    answer (``Session.save_calibration_answer``), never a review.

    Phases (a care score and an explicit judgement for each that applies; overall always),
    problems in care with whether each led to harm, avoidability (RCP direction) and themes.
    """

    def __init__(self, session: Any, round_id: str, case: Any, stored: dict | None,
                 theme_choices: Sequence[tuple[str, str]], on_saved: Any = None) -> None:
        import ipywidgets as w

        self.session, self.round_id, self.case, self.on_saved = session, round_id, case, on_saved
        self.scores: dict[str, Any] = {}
        self.na: dict[str, Any] = {}
        self.comments: dict[str, Any] = {}
        rows = []
        score_options = [("-", None)] + [(f"{v} {domain.label('care_score', v)}", v)
                                         for v in domain.CARE_SCORES]
        for phase in domain.PHASES:
            score = w.Dropdown(options=score_options, value=None,
                               layout=w.Layout(width="230px"))
            score.add_class(f"cal-score-{phase}")
            comment = w.Textarea(placeholder="Explicit judgement: what was good or poor, "
                                 "and why", layout=w.Layout(width="460px", height="54px"))
            comment.add_class(f"cal-comment-{phase}")
            parts = [w.HTML(f"<b>{html.escape(domain.label('phase', phase))}</b>",
                            layout=w.Layout(width="250px")), score]
            if phase != "overall":
                na = w.Checkbox(description="Not applicable", indent=False,
                                layout=w.Layout(width="130px"))
                na.add_class(f"cal-na-{phase}")
                self.na[phase] = na
                parts.append(na)
            parts.append(comment)
            self.scores[phase], self.comments[phase] = score, comment
            rows.append(w.HBox(parts))
        harm_options = [("Not present", None)] + [
            (domain.label("harm", h), h) for h in domain.HARM_VALUES]
        self.problems = {}
        problem_rows = []
        for kind in domain.PROBLEM_TYPES:
            harm = w.Dropdown(options=harm_options, value=None, layout=w.Layout(width="150px"))
            harm.add_class(f"cal-problem-{kind}")
            self.problems[kind] = harm
            problem_rows.append(w.HBox([w.HTML(html.escape(domain.label("problem_type", kind)),
                                               layout=w.Layout(width="640px")), harm]))
        self.avoidability = w.Dropdown(
            options=[("-", None)] + [(f"{v} {domain.label('avoidability_score', v)}", v)
                                     for v in domain.AVOIDABILITY_SCORES],
            value=None, layout=w.Layout(width="460px"))
        self.avoidability.add_class("cal-avoidability")
        self.themes = w.SelectMultiple(options=list(theme_choices), rows=6,
                                       layout=w.Layout(width="460px"))
        self.themes.add_class("cal-themes")
        self.save_button = w.Button(description="Save draft")
        self.save_button.add_class("cal-save")
        self.submit_button = w.Button(description="Submit answer", button_style="primary")
        self.submit_button.add_class("cal-submit")
        self.message = w.HTML()
        self.message.add_class("cal-message")
        self.reference = w.HTML()
        self.reference.add_class("cal-reference")
        self.save_button.on_click(lambda _: self.save(submit=False))
        self.submit_button.on_click(lambda _: self.save(submit=True))
        self.widget = w.VBox([
            w.HTML('<div class="sjr-training-mark">Training: a fictional case. Your answer is '
                   "a training answer, kept apart from reviews and never counted in any "
                   "Learning from Deaths figure.</div>"),
            w.HTML(f"<h3>{html.escape(case.case_id)}: {html.escape(case.title)}</h3>"
                   f'<div class="sjr-cal-summary">{html.escape(case.summary)}</div>'),
            w.HTML("<h4>Phases of care</h4>"), *rows,
            w.HTML("<h4>Problems in care (did the problem lead to harm?)</h4>"), *problem_rows,
            w.HTML("<h4>Avoidability of death and themes</h4>"), self.avoidability,
            self.themes, w.HBox([self.save_button, self.submit_button]), self.message,
            self.reference])
        self.widget.add_class("cal-form")
        if stored is not None:
            self._fill(stored)

    def _fill(self, stored: dict) -> None:
        for phase in domain.PHASES:
            value = stored.get(f"score_{phase}")
            self.scores[phase].value = None if value is None or pd.isna(value) else int(value)
            self.comments[phase].value = stored.get("comments", {}).get(phase, "")
        for kind, harm in stored.get("problems", {}).items():
            self.problems[kind].value = harm
        value = stored.get("avoidability_score")
        self.avoidability.value = None if value is None or pd.isna(value) else int(value)
        self.themes.value = tuple(t for t in stored.get("themes", ())
                                  if t in dict((v, k) for k, v in self.themes.options))
        if stored.get("status") == "submitted":
            self._submitted()

    def values(self, *, submit: bool) -> dict[str, Any]:
        """The answer as ``Session.save_calibration_answer`` takes it."""
        out: dict[str, Any] = {"status": "submitted" if submit else "draft", "comments": {}}
        for phase in domain.PHASES:
            applies = phase == "overall" or not self.na[phase].value
            out[f"score_{phase}"] = self.scores[phase].value if applies else None
            if applies and self.comments[phase].value.strip():
                out["comments"][phase] = self.comments[phase].value.strip()
        out["problems"] = {k: v.value for k, v in self.problems.items() if v.value}
        out["avoidability_score"] = self.avoidability.value
        out["themes"] = list(self.themes.value)
        return out

    def save(self, *, submit: bool) -> bool:
        """Save the answer (a draft, or submitted and final); say what happened."""
        from data_access import AccessDenied
        from data_access.training import TrainingDataError
        from sjrlib.privacy import find_identifiers

        values = self.values(submit=submit)
        if any(find_identifiers(t) for t in values["comments"].values()):
            self.message.value = ("<b>Not saved.</b> A judgement looks as if it holds a "
                                  "patient identifier; training cases have none. Remove it.")
            return False
        try:
            self.session.save_calibration_answer(self.round_id, self.case.case_id, values)
        except (AccessDenied, TrainingDataError, ValueError) as exc:
            self.message.value = f"<b>Not saved.</b> {html.escape(str(exc))}"
            return False
        when = dt.datetime.now().strftime("%H:%M")
        if submit:
            self.message.value = (f"<b>Answer to {html.escape(self.case.case_id)} submitted</b> "
                                  f"at {when}. The panel's reference answers are shown below.")
            self._submitted()
        else:
            self.message.value = f"<b>Draft saved</b> at {when}."
        if self.on_saved is not None:
            self.on_saved(submit)
        return True

    def show_reference(self, case: Any) -> None:
        """The panel's reference answers (once this reviewer has submitted)."""
        if "overall" not in case.scores:
            return
        rows = [(domain.label("phase", p), f"{s} {domain.label('care_score', s)}")
                for p, s in case.scores.items()]
        rows += [("Problems in care", "; ".join(
            f"{domain.label('problem_type', k).split(' (')[0]}: harm "
            f"{domain.label('harm', v).lower()}" for k, v in case.problems.items()) or "none")]
        if case.avoidability is not None:
            rows.append(("Avoidability", f"{case.avoidability} "
                         f"{domain.label('avoidability_score', case.avoidability)}"))
        rows.append(("Themes", ", ".join(case.themes)))
        self.reference.value = _table_html("The panel's reference answers",
                                           pd.DataFrame(rows, columns=["", "Panel"]))

    def _submitted(self) -> None:
        for widget in (*self.scores.values(), *self.na.values(), *self.comments.values(),
                       *self.problems.values(), self.avoidability, self.themes,
                       self.save_button, self.submit_button):
            widget.disabled = True


class CalibrationPage:
    """The calibration dashboard of one signed-in user (see the module docstring)."""

    def __init__(self, session: Any, *, today: dt.date | None = None) -> None:
        import ipywidgets as w

        self.session = session
        self.today = today or dt.date.today()
        self.form: CalibrationForm | None = None
        self.results = w.HTML()
        self.results.add_class("cal-results")
        self.form_box = w.VBox()
        self.round = w.Dropdown(description="Round", layout=w.Layout(width="520px"))
        self.round.add_class("cal-round")
        self.case = w.Dropdown(description="Case", layout=w.Layout(width="520px"))
        self.case.add_class("cal-case")
        self.header = w.HTML()
        parts: list[Any] = [w.HTML(_CSS), self.header]
        if session.role == "reviewer":
            parts += [w.HBox([self.round, self.case]), self.form_box]
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
        from sjrlib.themes.codebook import shipped_codebook

        self._themes = [(t.label, t.id) for t in shipped_codebook().active]

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
        import io

        from data_access import AccessDenied
        from data_access.training import TrainingDataError

        try:
            frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False,
                                encoding="utf-8-sig")
            new, updated = self.session.import_trainers(frame, source=name)
        except (AccessDenied, TrainingDataError, ValueError, UnicodeDecodeError,
                pd.errors.ParserError) as exc:
            self.import_message.value = ("<b>Not imported.</b><br>"
                                         + html.escape(str(exc)).replace("\n", "<br>"))
            return False
        self.import_message.value = (f"<b>Imported {html.escape(name)}</b>: {new} new, "
                                     f"{updated} updated.")
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
        tables = results_tables(self.session.calibration_data(), self.session.role)
        self.results.value = "".join(_table_html(t, f) for t, f in tables)

    def _round_changed(self) -> None:
        round_id = self.round.value
        if round_id is None:
            return
        cases = {c.case_id: c for c in self.session.training_cases(
            list(self._rounds[round_id].case_ids))}
        self._cases = cases
        options = [(f"{c.case_id}: {c.title}", c.case_id) for c in cases.values()]
        self._quiet = True
        self.case.options = options
        self.case.value = options[0][1] if options else None
        self._quiet = False
        self._case_changed()

    def _case_changed(self) -> None:
        round_id, case_id = self.round.value, self.case.value
        if round_id is None or case_id is None:
            return
        answers = self.session.calibration_answers(round_id)
        mine = answers[answers["case_id"] == case_id]
        stored = None if mine.empty else mine.iloc[0].to_dict()
        form = CalibrationForm(self.session, round_id, self._cases[case_id], stored,
                               self._themes, on_saved=self._saved)
        self.form = form
        if stored is not None and stored.get("status") == "submitted":
            form.show_reference(self.session.training_cases([case_id], reference=True)[0])
        self.form_box.children = [form.widget]

    def _saved(self, submitted: bool) -> None:
        if submitted and self.form is not None:
            case_id = self.form.case.case_id
            self.form.show_reference(self.session.training_cases([case_id],
                                                                 reference=True)[0])
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
    page.today = dt.date.today()
    page.read()
    notice = ui.demo_sign_in(session)
    return page.widget if notice is None else w.VBox([notice, page.widget])
