"""Form versions in validation and the exchange format (shared/spec/form-versions.md).

Inputs are written by hand here (rows from ``test_rules.review`` / ``ext``, files as CSV text),
not drawn from the synthetic generator: a file made before form versions imports unchanged,
both versions round-trip losslessly through CSV and XLSX, an rcp2017 row answering an ext2026
question is refused naming file, row and field, and every ext2026 consistency rule is refused on
import with the store unchanged (SQLite and PostgreSQL).
"""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path

import pandas as pd
import pytest
from test_import_cli import dump, sjr
from test_rules import SCOTTISH_BOARD, TODAY, ext, review

from sjrlib import domain, io
from sjrlib.form.registry import registry
from sjrlib.schema import ValidationFailed, validate_reviews

DATA = Path(__file__).parent / "data"
EXT2026_ONLY = registry().columns_not_in("rcp2017")


def _csv(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or list(dict.fromkeys(c for r in rows for c in r))
    out = _io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_made_before_form_versions_imports_unchanged(tmp_path):
    old = DATA / "reviews_valid.csv"
    header = old.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "form_version" not in header
    frame = io.read_reviews(old, today=TODAY)
    assert (frame["form_version"] == "rcp2017").all()
    assert frame[list(EXT2026_ONLY)].isna().all().all()
    # what the file said is what was read: its own columns, cell for cell, on a re-read of the
    # same text with form_version blank
    blank = _write(tmp_path, "blank.csv", old.read_text(encoding="utf-8").replace(
        header[0], "form_version," + header[0], 1).replace("\nR", "\n,R"))
    pd.testing.assert_frame_equal(io.read_reviews(blank, today=TODAY), frame)
    # and written back it holds no column of a later question
    io.write_reviews(frame, tmp_path / "back.csv")
    written = (tmp_path / "back.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert set(written) == set(header) | {"form_version"}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_file_of_both_versions_round_trips_every_answer(tmp_path, suffix):
    rows = [
        review(),
        ext(review_id="R2", case_id="C-0002", learning_disability="yes", referral_leder="made",
            referral_ref_leder="LDR/2024/118", referral_complaint="planned",
            referral_ref_complaint="CMP 5521", clinical_frailty_scale="",
            cause_of_death="Aspiration pneumonia;\nfrailty"),
        ext(review_id="R3", case_id="C-0003", **SCOTTISH_BOARD,
            referral_procurator_fiscal="completed", referral_ref_procurator_fiscal="PF-77",
            family_involved="no_contact", family_feedback="not_applicable",
            dying_recognised="not_applicable", escalation_plan="unknown", autism="unknown"),
    ]
    frame = validate_reviews(pd.DataFrame(rows), today=TODAY)
    assert list(frame["form_version"]) == ["rcp2017", "ext2026", "ext2026"]
    assert frame.loc[1, "referral_ref_leder"] == "LDR/2024/118"
    assert frame["clinical_frailty_scale"].dtype == "Int64"
    path = tmp_path / f"reviews{suffix}"
    io.write_reviews(frame, path)
    back = io.read_reviews(path, today=TODAY)
    pd.testing.assert_frame_equal(back, frame)
    assert set(io.export_columns(frame)) == set(domain.REVIEW_COLUMNS)


def test_export_of_rcp2017_reviews_only_writes_the_2017_columns(tmp_path):
    frame = validate_reviews(pd.DataFrame([review()]), today=TODAY)
    columns = io.export_columns(frame)
    assert "form_version" in columns
    assert not set(columns) & set(EXT2026_ONLY)
    assert io.export_columns(frame.drop(columns=["form_version"])) == tuple(
        c for c in columns if c != "form_version")


def test_an_rcp2017_row_answering_an_ext2026_question_is_refused_naming_file_row_and_field(
        tmp_path):
    path = _write(tmp_path, "trust_reviews.csv", _csv([
        ext(),
        review(review_id="R2", case_id="C-0002", autism="yes", referral_psii="made"),
        review(review_id="R3", case_id="C-0003", form_version="rcp2017",
               clinical_frailty_scale="4"),
    ]))
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(path, today=TODAY)
    errors = [(e.source, e.row, e.column, e.rule) for e in caught.value.errors]
    assert errors == [
        ("trust_reviews.csv", 3, "autism", "not_asked_in_version"),
        ("trust_reviews.csv", 3, "referral_psii", "not_asked_in_version"),
        ("trust_reviews.csv", 4, "clinical_frailty_scale", "not_asked_in_version"),
    ]
    text = str(caught.value)
    assert "trust_reviews.csv, row 3, column autism (value 'yes'): autism is answered but this " \
           "review is on form version rcp2017, which does not ask it" in text
    assert "give form_version ext2026" in text


def test_streamed_import_reports_the_same_errors_as_the_whole_file(tmp_path):
    """A file of several blocks (about 1 MB each): the version rules in the first and the last
    block, a duplicate review_id across blocks, a draft spared its completeness rules."""
    comment = "Reviewed the notes in full; escalation was timely and well recorded. " * 8
    rows = [ext(review_id=f"R{i}", case_id=f"C-{i:05d}", comment_overall=comment)
            for i in range(1, 3001)]
    rows[5] = review(review_id="R6", case_id="C-00006", escalation_plan="no")
    rows[2990] = ext(review_id="R2991", case_id="C-02991", age_at_death="50")
    rows[2995] = ext(review_id="R7", case_id="C-02996")
    rows[2996] = ext(review_id="R2997", case_id="C-02997", status="draft", comment_overall="")
    path = _write(tmp_path, "r.csv", _csv(rows))
    assert len(list(io.stream_reviews(_write(tmp_path, "ok.csv", _csv(rows[6:2006])),
                                      block_bytes=1, today=TODAY))) >= 2
    with pytest.raises(ValidationFailed) as whole:
        io.read_reviews(path, today=TODAY)
    with pytest.raises(ValidationFailed) as streamed:
        for _ in io.stream_reviews(path, block_bytes=1, today=TODAY):
            pass
    found = [(e.row, e.column, e.rule) for e in whole.value.errors]
    assert found == [(7, "escalation_plan", "not_asked_in_version"),
                     (8, "review_id", "review_id_unique"),
                     (2992, "clinical_frailty_scale", "frailty_only_65_and_over"),
                     (2997, "review_id", "review_id_unique")]
    assert [(e.row, e.column, e.rule) for e in streamed.value.errors] == found


def test_rule_messages_say_what_would_be_right():
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(pd.DataFrame([
            ext(**{**SCOTTISH_BOARD, "referral_coroner": "made"}),
            ext(review_id="R2", case_id="C-0002", me_scrutiny="no"),
            ext(review_id="R3", case_id="C-0003", referral_ref_psii="x" * 41),
        ]), today=TODAY)
    messages = {(e.row, e.rule): e.message for e in caught.value.errors}
    assert "coroners are English; in Scotland refer to the Procurator Fiscal" in \
        messages[(2, "coroner_only_england")]
    assert messages[(3, "me_concern_only_after_scrutiny")].startswith(
        "me_concern is filled in, but that is only for when me_scrutiny is yes")
    assert messages[(4, "max_length")] == "referral_ref_psii is longer than 40 characters"


# --- refused on import, the store unchanged ----------------------------------------------------

ORGANISATIONS = ("organisation_code,name,nation,region\n"
                 "RXX,Example Hospitals NHS Trust,england,North East and Yorkshire\n"
                 "S08000015,NHS Example Board,scotland,Scotland\n")

BROKEN = {
    "coroner_only_england": ext(**{**SCOTTISH_BOARD, "referral_coroner": "made"}),
    "procurator_fiscal_only_scotland": ext(referral_procurator_fiscal="made"),
    "leder_only_learning_disability_or_autism": ext(referral_leder="planned"),
    "frailty_only_65_and_over": ext(age_at_death="40"),
    "me_concern_only_after_scrutiny": ext(me_scrutiny="no"),
    "me_scrutiny_nation": ext(**{**SCOTTISH_BOARD, "me_scrutiny": "yes"}),
    "max_length": ext(referral_ref_psii="R" * 41),
    "no_identifiers": ext(referral_ref_psii="943 476 5919"),
    "not_asked_in_version": review(family_concern="yes"),
}


def test_every_ext2026_rule_is_refused_on_import_and_the_store_is_unchanged(db_url, tmp_path):
    assert sjr("import", "organisations", _write(tmp_path, "o.csv", ORGANISATIONS),
               "--db", db_url).exit_code == 0
    good = [ext(review_id="G1", case_id="C-1001"),
            ext(review_id="G2", case_id="C-1002", **SCOTTISH_BOARD)]
    columns = list(domain.REVIEW_COLUMNS)
    first = sjr("import", "reviews", _write(tmp_path, "good.csv", _csv(good, columns)),
                "--db", db_url)
    assert first.exit_code == 0, first.output
    before = dump(db_url)
    for rule, row in BROKEN.items():
        rows = [ext(review_id="N1", case_id="C-2001"), {**row, "review_id": "N2",
                                                         "case_id": "C-2002"}]
        path = _write(tmp_path, f"{rule}.csv", _csv(rows, columns))
        result = sjr("import", "reviews", path, "--db", db_url)
        assert result.exit_code != 0, rule
        assert f"{rule}.csv, row 3, column " in result.output, (rule, result.output)
        assert f"[{rule}]" in result.output, (rule, result.output)
        assert "943 476 5919" not in result.output
        assert dump(db_url) == before, rule


# --- answer lists where a clinician expects them (issue 12 part 4) -----------------------------

def test_a_trusts_own_specialty_and_location_codes_come_in_through_a_column_mapping(tmp_path):
    rows = [review(specialty="430", location_of_death="AMU"),
            review(review_id="R2", case_id="C-0002", specialty="general_surgery",
                   location_of_death="ward")]
    path = _write(tmp_path, "theirs.csv", _csv(rows))
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(path, today=TODAY)
    assert [(e.row, e.column, e.rule) for e in caught.value.errors] == [
        (2, "specialty", "code_list"), (2, "location_of_death", "code_list")]
    assert "care_of_the_elderly" in caught.value.errors[0].message  # says what would be right
    mapping = {"values": {"specialty": {"430": "care_of_the_elderly"},
                          "location_of_death": {"AMU": "acute_medical_unit"}}}
    frame = io.read_reviews(path, mapping=mapping, today=TODAY)
    assert list(frame["specialty"]) == ["care_of_the_elderly", "general_surgery"]
    assert list(frame["location_of_death"]) == ["acute_medical_unit", "ward"]
    assert domain.label("specialty", "care_of_the_elderly") == \
        "Care of the elderly (geriatric medicine)"
    assert "other" in domain.SPECIALTIES and "other" in domain.LOCATIONS_OF_DEATH
