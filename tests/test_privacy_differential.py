"""The bulk identifier screen against the exact per-text detector, on a few thousand varied
texts written here: ``contains_identifiers`` (one RE2 candidate pass over the distinct texts,
then the detailed checks on candidates) must say exactly ``bool(find_identifiers(text))`` for
every text, identifiers and near-misses alike (valid and invalid NHS and CHI numbers, dates of
birth and history dates, postcodes and bay/ordinal look-alikes, phone numbers, names and
eponyms, emails, hospital numbers, addresses, pseudonymous ids), in any column dtype, with
nulls and repeats."""

from __future__ import annotations

import datetime as _dt
import random

import numpy as np
import pandas as pd
import pytest

from sjrlib.privacy import contains_identifiers, find_identifiers

TODAY = _dt.date(2026, 12, 4)


def _nhs(rng: random.Random, valid: bool) -> str:
    """A ten-digit number whose modulus-11 check digit is right (or deliberately wrong)."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            break
    last = check if valid else (check + rng.randrange(1, 10)) % 10
    return "".join(map(str, [*digits, last]))


def _chi(rng: random.Random, valid_date: bool) -> str:
    day = rng.randrange(1, 29) if valid_date else rng.choice([0, 32, 45])
    month = rng.randrange(1, 13) if valid_date else rng.choice([0, 13, 19])
    head = f"{day:02d}{month:02d}{rng.randrange(100):02d}{rng.randrange(1000):03d}"
    digits = [int(c) for c in head]
    total = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return head + str(check if check < 10 else rng.randrange(10))


def _grouped(rng: random.Random, number: str) -> str:
    style = rng.randrange(6)
    if style == 0:
        return number
    if style == 1:
        return f"{number[:3]} {number[3:6]} {number[6:]}"
    if style == 2:
        return f"{number[:3]}-{number[3:6]}-{number[6:]}"
    if style == 3:
        return f"{number[:3]}\u00a0{number[3:6]}\u00a0{number[6:]}"
    if style == 4:
        return f"{number[:6]} {number[6:]}"
    return f"{number[:3]}\u2013{number[3:6]}\u2013{number[6:]}"


_MONTHS = ["Jan", "February", "Mar", "April", "May", "June", "Jul", "Aug", "Sept", "October",
           "Nov", "December"]
_FIRST = ["John", "Sarah", "Mohammed", "Anne", "Karen", "Grace", "Will", "Priya", "Oluwaseun",
          "Siobhan", "Piotr", "Mark", "May", "JOHN", "ANNE"]
_LAST = ["Smith", "Khan", "Wilson", "O'Neill", "Nowak", "Patel", "Parkinson", "Addison",
         "WALKER", "McDonald", "Radcliffe", "Brown"]
_TITLES = ["Mr", "Mrs", "Dr", "dr", "MR", "Sister", "Prof.", "Ms"]
_CUES = ["daughter", "wife", "son", "NOK:", "patient", "seen by", "spoke to", "called",
         "GP", "name:"]
_AFTER = ["", "", "'s disease", " syndrome", " Hospital", " Ward", " sign", " team"]
_STREETS = ["Street", "Road", "Avenue", "Lane", "Close", "Rd", "St", "Gardens", "Way", "House",
            "ROAD", "Ward", "Bay", "Unit", "ward"]
_EVENTS = ["", "", "admitted ", "CABG ", "appendicectomy ", "diagnosed ", "born ", "DOB ",
           "d.o.b. ", "date of birth ", "b. ", "seen ", "since "]
_FILLER = ["Reviewed on the ward round.", "NEWS2 5 at 14:30, escalated promptly.",
           "Given 2 L oxygen and 500 ml fluid.", "Seen in bay 4, bed 12.", "CT head 10/03.",
           "Plan discussed with the family.", "Hb 98 g/L, CRP 120.", "ReSPECT form in notes.",
           "No learning points.", "Poor care: antibiotics delayed 6 hours.",
           "Ward 7B, side room 3.", "Frailty score 6; DNACPR agreed.", "", "N/A"]


def _fragment(rng: random.Random) -> str:
    kind = rng.randrange(16)
    year = rng.choice([1931, 1948, 1955, 1972, 1990, 2001, 2019, 2025])
    day, month = rng.randrange(1, 32), rng.randrange(1, 13)
    if kind == 0:
        return f"NHS {_grouped(rng, _nhs(rng, rng.random() < 0.5))}"
    if kind == 1:
        return _grouped(rng, _nhs(rng, rng.random() < 0.5))
    if kind == 2:
        return f"CHI {_grouped(rng, _chi(rng, rng.random() < 0.6))}"
    if kind == 3:
        written = rng.choice([f"{day:02d}/{month:02d}/{year}", f"{day}.{month}.{year % 100:02d}",
                              f"{day} {_MONTHS[month - 1]} {year}",
                              f"{_MONTHS[month - 1]} {day}, {year}",
                              f"{year}-{month:02d}-{day:02d}",
                              f"{day}th of {_MONTHS[month - 1]} '{year % 100:02d}",
                              f"{day:02d}/{month:02d}"])
        return f"{rng.choice(_EVENTS)}{written}{rng.choice(['', ' (DOB)', '.', ' at 10:00'])}"
    if kind == 4:
        area = rng.choice(["LS", "M", "EH", "SW1A", "B", "G", "CF", "A"])
        inward = rng.choice(["4AP", "1AA", "2nd", "3rd", "9ZZ", "4th", "2AB"])
        sep = rng.choice([" ", "", "  ", "\u00a0"])
        return f"{area}{rng.randrange(1, 30)}{sep}{inward}"
    if kind == 5:
        start = rng.choice(["0113", "07700", "+44 20", "0044 161", "(0131)", "0800", "0", "999"])
        return f"{start} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
    if kind == 6:
        return (f"{rng.choice(_TITLES)} {rng.choice(_FIRST + _LAST + ['on', 'the', 'Reg'])}"
                f"{rng.choice(['', ' ' + rng.choice(_LAST)])}{rng.choice(_AFTER)}")
    if kind == 7:
        return f"{rng.choice(_CUES)} {rng.choice(_FIRST + ['Blood', 'Nil'])}" + rng.choice(
            ["", " " + rng.choice(_LAST)])
    if kind == 8:
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}{rng.choice(_AFTER)}"
    if kind == 9:
        return rng.choice(["jane.doe@nhs.net", "a@b", "x@y.co.uk", "@consultant", "me @ home",
                           "ward7@trust.nhs.uk", "email@"])
    if kind == 10:
        label = rng.choice(["MRN", "Hosp no.", "hospital number", "unit no", "RXH number", "id",
                            "case notes no", "no.", "#", "Bed no"])
        number = rng.randrange(10, 10 ** rng.randrange(2, 9))
        return f"{label} {rng.choice(['', 'A', 'RX1 '])}{number}"
    if kind == 11:
        flat = rng.choice(["", "Flat 3, ", "FLAT 2 ", "Apt 4b "])
        words = " ".join(rng.choice(["Acacia", "High", "Old Mill", "NORTH", "St", "Queen's"])
                         for _ in range(rng.randrange(1, 4)))
        sep = rng.choice([" ", ", ", "\u00a0", "  ", "\n"])
        return f"{flat}{rng.randrange(1, 300)}{rng.choice(['', 'a'])}{sep}{words} " + rng.choice(
            _STREETS)
    if kind == 12:
        org = rng.choice(["XA2", "RX1", "R0A", "7A1"])
        return rng.choice([f"{org}-SJR{rng.randrange(10**6):06d}",
                           f"{org}-C{rng.randrange(10**6):06d}",
                           f"{org}-RV{rng.randrange(1000):03d}", f"{org}/{rng.randrange(10**7)}",
                           f"{org}-{rng.randrange(10**10):010d}"])
    if kind == 13:
        return f"{rng.randrange(1, 99)} {rng.choice(['Ward', 'Bay', 'PM', 'NEWS', 'Smith', 'Mg'])}"
    if kind == 14:
        return rng.choice(["aged 84", "8 days", "BP 90/60", "1 in 4", "3.4.51", "12/3/2019",
                           "Parkinson's", "St Thomas", "Queen Elizabeth", "Charles Bonnet",
                           "John Radcliffe Hospital", "Victoria Ward", "grade 3", "2nd"])
    return rng.choice(_FILLER)


def _texts(n: int, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    out: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.03:
            out.append(None)
            continue
        parts = [_fragment(rng) for _ in range(rng.randrange(1, 4))]
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(_FILLER))
        out.append(rng.choice([" ", "; ", ", ", ". ", "\n"]).join(parts))
    return out


@pytest.fixture(scope="module")
def texts() -> list[str | None]:
    return _texts(4000, seed=20261204)


@pytest.fixture(scope="module")
def expected(texts) -> list[bool]:
    return [bool(find_identifiers(t, today=TODAY)) for t in texts]


def test_the_texts_hold_both_identifiers_and_near_misses(texts, expected):
    present = [e for t, e in zip(texts, expected, strict=True) if t is not None]
    assert 0.25 < np.mean(present) < 0.85  # both answers well represented
    kinds = {f.kind for t in texts if t for f in find_identifiers(t, today=TODAY)}
    assert kinds == {"nhs_number", "chi_number", "postcode", "email", "phone",
                     "hospital_number", "date_of_birth", "address", "name"}


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]", "string[python]"])
def test_the_bulk_screen_says_exactly_what_the_detector_finds(texts, expected, dtype):
    series = pd.Series(texts, dtype=dtype, index=np.arange(len(texts)) * 3 + 7)
    got = contains_identifiers(series, today=TODAY)
    assert got.index.equals(series.index)
    wrong = [t for t, g, e in zip(texts, got.tolist(), expected, strict=True) if g != e]
    assert not wrong, wrong[:10]


def test_repeats_and_nulls_are_screened_like_the_first_of_them(texts, expected):
    # Each distinct text is screened once: a column of repeats gives each copy the same answer.
    rng = random.Random(7)
    order = [rng.randrange(len(texts)) for _ in range(6000)]
    series = pd.Series([texts[i] for i in order], dtype="string[pyarrow]")
    assert contains_identifiers(series, today=TODAY).tolist() == [expected[i] for i in order]
