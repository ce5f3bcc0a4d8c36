"""Everything derived from the field registry agrees with it, and a question registered at run
time reaches every derived list without any other edit.

The agreement tests compare each module's list with the registry's own declarations (the
registry is the source; there are no copies to keep in step). The registration tests run in a
fresh interpreter: they register a question before anything is imported, as a declaration added
to ``sjrlib/form/registry.py`` would be, and watch it reach the rules, the exchange format, the
researchers' redaction and the reports' drop list.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from data_access import pseudonymise
from sjrlib import domain, rules, schema
from sjrlib.form.registry import (
    BASE_VERSION,
    ChildRows,
    Kind,
    Privacy,
    answer_list,
    registry,
)
from sjrlib.report import data as report_data
from sjrlib.stats import _reviews


def test_domain_vocabularies_are_the_registrys_answer_lists():
    reg = registry()
    assert domain.SEXES == reg.column("sex").spec.answers.ids
    assert domain.PHASES == reg.question("phase_assessment").types.ids
    assert domain.PROBLEM_TYPES == reg.question("problem").types.ids
    assert domain.REFERRAL_TYPES == reg.question("referral").types.ids
    assert domain.CARE_SCORES == (1, 2, 3, 4, 5)
    assert domain.AVOIDABILITY_SCORES == (1, 2, 3, 4, 5, 6)
    assert (domain.MIN_AGE, domain.MAX_AGE) == (18, 120)
    assert domain.labels("yn_unknown")["unknown"] == "Not known"
    assert domain.label("clinical_frailty_scale", 9) == "Terminally ill"
    assert domain.score_column("overall") == "score_overall"
    assert domain.referral_ref_column("coroner") == "referral_ref_coroner"
    assert domain.REVIEW_COLUMNS == reg.column_names()  # every version's
    for column in domain.REVIEW_COLUMNS:
        kind = reg.column(column).kind
        expected = {Kind.SCORE: "Int64", Kind.INTEGER: "Int64",
                    Kind.DATE: "datetime64[ns]"}.get(kind, "string")
        assert domain.REVIEW_DTYPES[column] == expected, column


def test_how_each_column_is_read_comes_from_its_declaration():
    reg = registry()
    for name, spec in rules.REVIEW_SPECS.items():
        field = reg.column(name).spec
        assert spec.required == field.required, name
        if field.kind is Kind.ANSWERS:
            assert (spec.kind, spec.codes) == ("code", field.answers.ids), name
        if field.kind in (Kind.SCORE, Kind.INTEGER):
            assert spec.kind == "int", name
    assert rules.REVIEW_SPECS["specialty"].codes == answer_list("specialty").ids
    needed = rules.required_columns(rules.REVIEW_SPECS)
    assert {"score_overall", "comment_overall"} <= set(needed)
    assert "comment_admission" not in needed and "score_admission" not in needed


def _rules_by_column() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in rules.REVIEW_RULES:
        for column in rule.columns:
            found.setdefault(column, set()).add(rule.id)
    return found


def test_every_screened_column_has_an_identifier_rule_and_every_number_a_range():
    by_column = _rules_by_column()
    reg = registry()
    for name in rules.REVIEW_SPECS:
        column = reg.column(name)
        if column.privacy in (Privacy.FREE_TEXT, Privacy.PSEUDONYMOUS_ID):
            assert by_column[name] & {"no_identifiers", f"{name}_not_identifier"}, name
        if column.spec.bounds is not None:
            assert any(r.endswith("_range") or r in ("age_adult", "days_to_death_non_negative")
                       for r in by_column[name]), name


def test_rule_metadata_lives_on_the_rules():
    completeness = {r.id for r in rules.REVIEW_RULES if r.draft_may_break}
    assert schema.DRAFT_MAY_BE_INCOMPLETE == completeness == {
        "required", "comment_required_when_scored", "second_stage_needs_avoidability",
        "any_problems_yes_but_none"}
    assert schema.CROSS_ROW_RULES == {r.id for r in rules.REVIEW_RULES if r.compares_rows} == {
        "review_id_unique", "second_review_of_known", "second_review_of_first_stage",
        "second_review_of_same_case", "second_review_of_same_organisation",
        "second_review_by_another_reviewer", "followed_by_second_stage"}
    # a block-by-block import keeps aside every column the cross-row rules read
    for rule in rules.REVIEW_RULES:
        if rule.compares_rows:
            assert set(rule.reads) <= set(schema._LINK_COLUMNS), rule.id
    assert all(isinstance(r.id, str) and r.id for r in rules.REVIEW_RULES)


def test_free_text_and_group_by_lists_are_the_registrys():
    reg = registry()
    assert pseudonymise.FREE_TEXT_COLUMNS == set(reg.free_text_columns())
    assert report_data.FREE_TEXT_COLUMNS == reg.free_text_columns()
    coded = {c: a for c, a in reg.group_by_columns().items()
             if all(isinstance(x, str) for x in a)}
    order = dict(_reviews._VOCABULARY_ORDER)
    assert order.pop(_reviews.REVIEW_REASON) == coded.pop("review_reasons")
    assert order.pop("nation") == domain.NATIONS
    assert order == coded


def test_draft_filing_and_workflow_columns_are_the_registrys():
    from sjrlib.dashboards import entry_form

    reg = registry()
    filing = {c.name for c in reg.columns() if getattr(c.spec, "files_draft", False)}
    workflow = {c.name for c in reg.columns() if getattr(c.spec, "workflow", False)}
    assert schema.DRAFT_ALWAYS_REQUIRED == filing
    assert entry_form._WORKFLOW == workflow
    # the entry form asks none of the workflow's columns and types none of them as text
    assert not workflow & set(entry_form.typed_text_columns("ext2026"))


def test_a_draft_is_refused_without_a_filing_column_and_spared_the_rest():
    base = {"review_id": "R1", "case_id": "C1", "organisation_code": "RXX",
            "review_stage": "first", "reviewer_id": "REV-1", "status": "draft",
            "review_date": "2024-03-05", "review_reasons": "random_sample",
            "death_month": "2024-02", "age_at_death": "", "score_overall": "",
            "comment_overall": "", "record_quality_score": "", "any_problems": ""}
    schema.validate_reviews(pd.DataFrame([base]))  # no age, no scores: a draft may wait
    for column in sorted(schema.DRAFT_ALWAYS_REQUIRED):
        row = {**base, column: ""}
        with pytest.raises(schema.ValidationFailed) as failed:
            schema.validate_reviews(pd.DataFrame([row]))
        assert column in {e.column for e in failed.value.errors}, column


def test_researcher_view_drops_then_redacts_every_free_text_column():
    frame = pd.DataFrame({c: pd.array(["Seen by Dr Smith, NHS 943 476 5919"], dtype="string")
                          for c in registry().free_text_columns()})
    fields = list(frame.columns)
    dropped = pseudonymise.researcher_view(frame, fields=fields, free_text=False,
                                           coarsening="month", secret=b"s" * 32)
    assert list(dropped.columns) == []
    shown = pseudonymise.researcher_view(frame, fields=fields, free_text=True,
                                         coarsening="month", secret=b"s" * 32)
    assert list(shown.columns) == fields
    assert not shown.apply(lambda s: s.str.contains("943 476 5919")).any().any()


# --- a question registered at run time ---------------------------------------------------------

_REGISTER_AND_PROBE = textwrap.dedent('''
    import json, sys, tempfile
    from pathlib import Path
    from sjrlib.form import registry as r

    question = r.Field("family_account", "What did the family tell the review?",
                       r.Kind.FREE_TEXT, "examiner_and_family", r.Privacy.FREE_TEXT,
                       versions=tuple(sys.argv[1].split(",")))
    r.register(question, after="cause_of_death")

    import pandas as pd
    from data_access import pseudonymise
    from sjrlib import domain, io, rules, schema
    from sjrlib.report import data as report_data

    row = {"review_id": "R1", "case_id": "C1", "organisation_code": "RXX",
           "review_stage": "first", "reviewer_id": "REV-1", "review_date": "2024-03-05",
           "review_reasons": "random_sample", "age_at_death": "81", "death_month": "2024-02",
           "score_overall": "3", "comment_overall": "Adequate.", "record_quality_score": "3",
           "any_problems": "no",
           "family_account": "Her son (NHS 943 476 5919) said she was not seen."}
    if sys.argv[1] == "ext2026":
        row["form_version"] = "ext2026"
    out = {"in_review_columns": "family_account" in domain.REVIEW_COLUMNS,
           "in_specs": "family_account" in rules.REVIEW_SPECS,
           "pseudonymise": "family_account" in pseudonymise.FREE_TEXT_COLUMNS,
           "report_drops": "family_account" in report_data.FREE_TEXT_COLUMNS}
    try:
        schema.validate_reviews(pd.DataFrame([row]))
        out["errors"] = []
    except schema.ValidationFailed as failed:
        out["errors"] = [[e.column, e.rule, str(e.value)] for e in failed.errors]
    row["family_account"] = "She felt listened to."
    frame = schema.validate_reviews(pd.DataFrame([row]))
    path = Path(tempfile.mkdtemp()) / "out.csv"
    io.write_reviews(frame, path)
    out["written"] = "family_account" in path.read_text().splitlines()[0].split(",")
    out["round_trip"] = io.read_reviews(path)["family_account"].iloc[0]
    view = pseudonymise.researcher_view(frame, fields=["review_id", "family_account"],
                                        free_text=False, coarsening="month",
                                        secret=b"k" * 32)
    out["researcher_columns_without_approval"] = list(view.columns)
    print(json.dumps(out))
''')


def _registered(versions: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _REGISTER_AND_PROBE, versions],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_registered_free_text_question_is_screened_redacted_and_exchanged():
    out = _registered("rcp2017,ext2026")
    assert out["in_review_columns"] and out["in_specs"]
    assert out["pseudonymise"] and out["report_drops"]
    assert out["errors"] == [["family_account", "no_identifiers",
                              "Her son (NHS [NHS_NUMBER]) said she was not seen."]]
    assert out["written"] and out["round_trip"] == "She felt listened to."
    assert out["researcher_columns_without_approval"] == ["review_id"]


def test_register_after_the_registry_is_in_use_is_refused():
    from sjrlib.form import registry as registry_module

    late = registry_module.Field("late", "Late", Kind.FREE_TEXT, "case", Privacy.FREE_TEXT)
    with pytest.raises(RuntimeError, match="before anything derives from the registry"):
        registry_module.register(late)


def test_child_rows_of_the_base_version():
    phases = registry().question("phase_assessment")
    assert isinstance(phases, ChildRows) and phases.asked_in(BASE_VERSION)
    assert registry().column("score_overall").spec.required
    assert not registry().column("score_admission").spec.required


def test_a_rule_that_compares_rows_says_so():
    """Each rule case of test_rules, validated whole and one row per block: the same errors.
    A rule that compares rows without ``compares_rows`` would see one row per block and miss
    (or invent) what the whole file shows."""
    from test_rules import REVIEW_CASES, TODAY

    for name, (rows, context, _) in REVIEW_CASES.items():
        frame = pd.DataFrame(rows)
        whole = block = []
        try:
            schema.validate_reviews(frame, today=TODAY, **context)
        except schema.ValidationFailed as failed:
            whole = [(e.row, e.column, e.rule) for e in failed.errors]
        blocks = [(frame.iloc[[i]].reset_index(drop=True), [i + 2]) for i in range(len(frame))]
        try:
            for _ in schema.validate_reviews_in_blocks(blocks, today=TODAY, **context):
                pass
        except schema.ValidationFailed as failed:
            block = [(e.row, e.column, e.rule) for e in failed.errors]
        assert block == whole, name
