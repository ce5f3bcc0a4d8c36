"""Identifier detection: check digits, formats, and no false hits on ordinary clinical text."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sjrlib.privacy import (
    chi_number_is_valid,
    contains_identifiers,
    find_identifiers,
    nhs_number_is_valid,
    redact,
)

TODAY = dt.date(2026, 11, 26)


def kinds(text: str) -> list[str]:
    return [f.kind for f in find_identifiers(text, today=TODAY)]


def _nhs_check_digit(nine: str) -> int | None:
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return 0 if check == 11 else None if check == 10 else check


# --- NHS numbers --------------------------------------------------------------------------

def test_published_example_is_valid():
    # shared/spec/calibration.md: 943 476 5919 is valid (weighted sum 299).
    assert sum(int(d) * w for d, w in zip("943476591", range(10, 1, -1))) == 299
    assert nhs_number_is_valid("943 476 5919")


@pytest.mark.parametrize(
    "written", ["9434765919", "943 476 5919", "943-476-5919", "94 34 76 59 19", "9434 765 919"]
)
def test_nhs_number_found_in_any_spacing(written):
    text = f"Patient {written} was reviewed."
    found = find_identifiers(text, today=TODAY)
    assert [f.kind for f in found] == ["nhs_number"]
    assert text[found[0].start : found[0].end] == found[0].text == written


@pytest.mark.parametrize("bad", ["9434765918", "9434765910", "1234567890", "943 476 5910"])
def test_ten_digit_numbers_failing_the_check_are_not_flagged(bad):
    assert not nhs_number_is_valid(bad)
    assert "nhs_number" not in kinds(f"ref {bad} noted")


def test_check_digit_ten_is_never_valid():
    # 100000001x: weighted sum 10*1 + 2*1 = 12 -> 11 - 1 = 10 -> no valid number exists.
    assert _nhs_check_digit("100000001") is None
    assert not any(nhs_number_is_valid(f"100000001{d}") for d in range(10))


def test_check_digit_eleven_maps_to_zero():
    # 000000000: sum 0 -> 11 - 0 = 11 -> check digit 0.
    assert nhs_number_is_valid("0000000000")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_nhs_validity_matches_the_rule(nine):
    check = _nhs_check_digit(nine)
    for d in range(10):
        assert nhs_number_is_valid(nine + str(d)) == (check == d)


@settings(deadline=None)  # the first call loads the name lists
@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.sampled_from([" ", "-", ""]))
def test_bulk_screen_never_misses_a_valid_nhs_number(nine, sep):
    check = _nhs_check_digit(nine)
    if check is None:
        return
    digits = nine + str(check)
    text = f"seen, ref {digits[:3]}{sep}{digits[3:6]}{sep}{digits[6:]} today"
    assert contains_identifiers(pd.Series([text])).tolist() == [True]


def test_longer_digit_runs_are_not_split_into_a_number():
    # 12 digits containing a valid NHS number in the middle: not an NHS number.
    assert "nhs_number" not in kinds("batch 129434765919 lot")


# --- CHI numbers --------------------------------------------------------------------------

def test_chi_with_modulus_11_check():
    # 010190123 -> weighted sum 86, 86 mod 11 = 9, check 2.
    assert chi_number_is_valid("0101901232")
    assert kinds("CHI 0101901232 recorded") == ["chi_number"]


def test_chi_with_modulus_10_check():
    # 010190123: doubled odd positions 0,0,18->9,2,6 + even 1,1,0,2 = 21 -> check 9.
    assert chi_number_is_valid("0101901239")
    assert kinds("CHI 0101901239") == ["chi_number"]


@pytest.mark.parametrize("bad", ["3202901232", "3002851230", "0113901232"])
def test_chi_needs_a_real_date(bad):
    assert not chi_number_is_valid(bad)


def test_chi_29_february_only_in_a_leap_year():
    # 29 Feb 1996 is a date; 29 Feb 1997 is not. Check digits computed for each.
    leap = "290296123"
    total = sum(int(d) * w for d, w in zip(leap, range(10, 1, -1)))
    check = (11 - total % 11) % 11
    if check != 10:
        assert chi_number_is_valid(leap + str(check))
    assert not chi_number_is_valid("2902971230") and not chi_number_is_valid("2902971239")


# --- other kinds --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, kind",
    [
        ("lives at LS1 4AP with family", "postcode"),
        ("address sw1a 1aa", "postcode"),
        ("postcode M1 1AE", "postcode"),
        ("email jo.bloggs@example.nhs.uk about it", "email"),
        ("daughter on 07700 900123", "phone"),
        ("ring 0113 243 3144", "phone"),
        ("tel +44 20 7946 0958", "phone"),
        ("MRN 1234567", "hospital_number"),
        ("hospital number A123456 on the wristband", "hospital_number"),
        ("Hosp no: 55123456", "hospital_number"),
        ("DOB 12/03/1950", "date_of_birth"),
        ("date of birth: 1950-03-12", "date_of_birth"),
        ("born 3rd March 1941 in Leeds", "date_of_birth"),
        ("admitted, d.o.b. 01.02.45", "date_of_birth"),
        ("letter dated 12/03/1950", "date_of_birth"),
        ("seen by Dr Jones on the ward", "name"),
        ("Mrs O'Neill was distressed", "name"),
        ("discussed with Prof. Kaur", "name"),
    ],
)
def test_identifier_kinds(text, kind):
    assert kind in kinds(text), find_identifiers(text, today=TODAY)
    # The bulk screen must let every real finding through to the detailed checks.
    assert contains_identifiers(pd.Series([text])).tolist() == [True]


@pytest.mark.parametrize(
    "text",
    [
        "10/03 CT head showed no bleed; reviewed by the registrar at 14:00.",
        "NEWS2 of 7 at 02:00, not escalated for 6 hours; lactate 4.2 mmol/L.",
        "Given 1000 ml over 4 hours; BP 90/60; HR 120; SpO2 88% on 15 L.",
        "Sepsis bundle within 1 hour on 2024-03-10; antibiotics at 10:15.",
        "Bay A1 2nd bed; moved to ward 23 on day 3.",
        "Reviewed by Dr on call; discussed with the consultant.",
        "DNACPR discussed 12/03 with the family, documented on 13/03/2025.",
        "Aged 84, frail, Clinical Frailty Scale 7, eGFR 23.",
        "",
    ],
)
def test_no_false_hits_on_clinical_text(text):
    assert find_identifiers(text, today=TODAY) == []


def test_findings_do_not_overlap_and_are_ordered():
    text = "Mr Smith DOB 12/03/1950 NHS 943 476 5919, LS1 4AP, MRN 1234567"
    found = find_identifiers(text, today=TODAY)
    assert [f.kind for f in found] == [
        "name", "date_of_birth", "nhs_number", "postcode", "hospital_number"
    ]
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start
    for f in found:
        assert text[f.start : f.end] == f.text


def test_contains_identifiers_is_vectorised_and_keeps_the_index():
    s = pd.Series(
        ["fine text", None, "NHS 943 476 5919", "ward 12 on 10/03", "Dr Jones"],
        index=[5, 6, 7, 8, 9],
    )
    out = contains_identifiers(s)
    assert out.index.tolist() == [5, 6, 7, 8, 9]
    assert out.tolist() == [False, False, True, False, True]


def test_redact_replaces_every_finding_and_nothing_else():
    text = "Seen by Dr Jones; NHS 943 476 5919; lives LS1 4AP. Antibiotics late."
    out = redact(text)
    assert out == "Seen by [NAME]; NHS [NHS_NUMBER]; lives [POSTCODE]. Antibiotics late."
    assert find_identifiers(out) == []
    assert redact(None) is None


# --- command line -------------------------------------------------------------------------

def _sjr(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "sjrlib.cli", *args], input=stdin, capture_output=True, text=True
    )


def test_check_text_cli_json_and_exit_codes():
    found = _sjr("check-text", "--json", "NHS 943 476 5919 and Mr Smith")
    assert found.returncode == 1
    assert json.loads(found.stdout) == [
        {"kind": "nhs_number", "start": 4, "end": 16, "text": "943 476 5919"},
        {"kind": "name", "start": 21, "end": 29, "text": "Mr Smith"},
    ]
    clean = _sjr("check-text", "--json", "-", stdin="10/03 CT head")
    assert clean.returncode == 0 and json.loads(clean.stdout) == []
    human = _sjr("check-text", "-", stdin="email a@b.com")
    assert human.returncode == 1 and "email address" in human.stdout
