"""A name is masked whole: title, first name and surname, even where the surname is on no list.

Before, "Mrs Jane Smithson" was found by two rules ("Mrs Jane" by its title, "Jane Smithson" as a
first name and a capitalised word); the overlap was settled by keeping the first, so a refused
comment was written out as "[NAME] Smithson": the surname in the error message, in a notebook's
saved output, in a researcher's redacted extract. The texts are written by hand here, not taken
from the synthetic generator or from the name lists' own test corpus.
"""

from __future__ import annotations

import pytest

from sjrlib import io, schema
from sjrlib.privacy import find_identifiers, redact, redact_values

WHOLE = [
    ("Mrs Jane Smithson was seen on the ward.", "Mrs Jane Smithson", "Smithson"),
    ("Discussed with Sister Mary Okonkwo-Bello.", "Sister Mary Okonkwo-Bello", "Okonkwo-Bello"),
    ("MRS JANE SMITHSON DISCHARGED", "MRS JANE SMITHSON", "SMITHSON"),
    ("told mr john smith at the bedside", "mr john smith", "smith"),
    ("Handed over to Mr Xyvan Threlkeld at 22:00.", "Mr Xyvan Threlkeld", "Threlkeld"),
    # with a title it is a person, whatever follows (before: "Mr John", and "Radcliffe" shown)
    ("Letter from Mr John Radcliffe Hospital", "Mr John Radcliffe", "Radcliffe"),
]


@pytest.mark.parametrize(("text", "name", "surname"), WHOLE)
def test_title_first_name_and_surname_are_one_finding(text, name, surname):
    found = [f for f in find_identifiers(text) if f.kind == "name"]
    assert [f.text for f in found] == [name]
    assert surname not in redact(text)


def test_a_refused_comment_is_written_out_without_the_surname():
    shown = redact_values(["Mrs Jane Smithson was seen by Dr Patel.", "Sepsis six done."])
    assert shown == ["[NAME] was seen by [NAME].", "Sepsis six done."]


def test_the_import_error_names_no_part_of_the_name(tmp_path):
    header = ("review_id,case_id,organisation_code,review_stage,status,reviewer_id,review_date,"
              "review_reasons,age_at_death,death_month,score_overall,comment_overall,"
              "record_quality_score,any_problems")
    row = ("HW-9,C-9,XB8,first,submitted,R-9,2021-06-10,family_concern,80,2021-05,3,"
           "\"Mrs Jane Smithson's care was good.\",3,no")
    path = tmp_path / "one.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    with pytest.raises(schema.ValidationFailed) as caught:
        io.read_reviews(path, known_organisations=["XB8"])
    text = str(caught.value)
    assert "comment_overall" in text and "no_identifiers" in text
    assert "Smithson" not in text and "Jane" not in text


CONTROLS = [
    # a surname, then a word that is not: the word stays
    ("Dr Patel Cardiology reviewed", "Dr Patel"),
    # a word in lower case after a capitalised name is not part of it
    ("Dr Smith will review tomorrow", "Dr Smith"),
    # a ward after the name is not part of it
    ("Dr Smith Ward 5 review", "Dr Smith"),
    # two people, two findings
    ("Mr Smithson and Mrs Smithson", "Mr Smithson|Mrs Smithson"),
]


@pytest.mark.parametrize(("text", "names"), CONTROLS)
def test_what_follows_a_name_is_not_swallowed(text, names):
    """Controls: these were found the same way before."""
    assert "|".join(f.text for f in find_identifiers(text) if f.kind == "name") == names
