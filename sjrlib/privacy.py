"""Finding direct identifiers in free text.

The RCP form records no name, NHS/CHI number, date of birth or full postcode, and the explicit
judgement comments must not carry them either (``shared/spec/privacy-and-disclosure.md``). This
module *finds* identifiers and says what and where, so a reviewer can fix the text; it never alters
clinical text on entry. :func:`redact` is for researchers' extracts only.

Kinds reported: ``nhs_number``, ``chi_number``, ``postcode``, ``email``, ``phone``,
``hospital_number``, ``date_of_birth``, ``address``, ``name``.

One detector is used everywhere: :func:`find_identifiers` (the form, ``sjr check-text``, ids,
approvals' purposes) and :func:`contains_identifiers` (the bulk screen imports use, which gives
exactly ``bool(find_identifiers(text))`` per text, only faster). What is refused is never
written out as typed: error messages give the kind and the characters (:func:`mask`,
:func:`redact_values`).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sjrlib import privacy_names as names

__all__ = [
    "KINDS",
    "Finding",
    "chi_number_is_valid",
    "contains_identifiers",
    "describe",
    "find_identifiers",
    "mask",
    "nhs_number_is_valid",
    "normalise",
    "redact",
    "redact_values",
]


class Finding(NamedTuple):
    """One identifier found in a text: ``text[start:end] == finding.text``."""

    kind: str
    start: int
    end: int
    text: str


KINDS: dict[str, str] = {
    "nhs_number": "NHS number",
    "chi_number": "CHI number",
    "postcode": "full postcode",
    "email": "email address",
    "phone": "telephone number",
    "hospital_number": "hospital/medical record number",
    "date_of_birth": "date of birth",
    "address": "street address",
    "name": "likely name",
}
"""Kind id -> words for people, used in error messages."""


# --- check digits -------------------------------------------------------------------------

def _mod11_check(digits: str) -> bool:
    """NHS number / historical CHI: weights 10..2 on digits 1-9; check = 11 - sum mod 11."""
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(digits[9])


def _mod10_check(digits: str) -> bool:
    """CHI modulus-10 check (from February 2026): double digits 9, 7, 5, 3, 1 (1-based)."""
    total = 0
    for position, d in enumerate(digits[:9], start=1):
        value = int(d)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10 == int(digits[9])


def nhs_number_is_valid(number: str) -> bool:
    """True if ``number`` (spaces, dots and dashes of any kind allowed) is a 10-digit NHS number
    with a valid modulus-11 check digit. Example: ``nhs_number_is_valid("943 476 5919")``."""
    digits = re.sub(r"[ .\s-]", "", normalise(number))
    return len(digits) == 10 and digits.isdigit() and _mod11_check(digits)


def _valid_ddmmyy(digits: str) -> bool:
    day, month, yy = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if not 1 <= month <= 12 or day < 1:
        return False
    # The century is unknown: 29 February is valid if it is in either candidate century.
    longest = max(calendar.monthrange(century + yy, month)[1] for century in (1900, 2000))
    return day <= longest


def chi_number_is_valid(number: str) -> bool:
    """True if ``number`` is a 10-digit CHI number: a valid DDMMYY date of birth, then four
    digits, with a valid modulus-11 or (since February 2026) modulus-10 check digit."""
    digits = re.sub(r"[\s-]", "", number)
    if len(digits) != 10 or not digits.isdigit() or not _valid_ddmmyy(digits):
        return False
    return _mod11_check(digits) or _mod10_check(digits)


# --- normalisation -------------------------------------------------------------------------

# One character for one: offsets in the normalised text are offsets in the text as written.
_NORMALISE = str.maketrans(
    {
        **{c: " " for c in "\t\u00a0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
           "\u2007\u2008\u2009\u200a\u200b\u202f\u205f\u3000\ufeff"},
        **{c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"},
        **{c: "'" for c in "\u2018\u2019\u02bc\u2032"},
        "\u2024": ".", "\uff0e": ".", "\u00b7": ".", "\uff0f": "/", "\uff20": "@", "\uff0b": "+",
    }
)


def normalise(text: str) -> str:
    """``text`` with Unicode spaces (no-break, thin, ...) as plain spaces, dashes and minus signs
    as ``-``, curly apostrophes as ``'``: one character for one, so positions are unchanged."""
    return text.translate(_NORMALISE)


# --- patterns (on normalised text) ----------------------------------------------------------

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"[0-9]{1,2}(?:[ ]?(?i:st|nd|rd|th))?"
_YEAR = r"(?:[0-9]{4}|'?[0-9]{2})"
_DATE = re.compile(
    r"(?<![0-9A-Za-z/.-])(?:"
    r"[0-9]{1,2}[ ]?[/.-][ ]?[0-9]{1,2}[ ]?[/.-][ ]?(?:[0-9]{4}|[0-9]{2})"  # 12/03/1950 3.4.51
    r"|[0-9]{4}[/.-][0-9]{1,2}[/.-][0-9]{1,2}"  # 1950-03-12
    rf"|{_DAY}(?:[ ]{{1,2}}(?i:of))?[ .,/-]{{0,3}}(?i:{_MONTHS})\.?,?[ ./-]{{0,3}}{_YEAR}"
    rf"|(?i:{_MONTHS})\.?[ ]{{1,2}}{_DAY},?[ ]{{1,2}}{_YEAR}"  # April 3, 1951
    r")(?![0-9A-Za-z]|[/.-][0-9])"
)
_DOB_BEFORE = re.compile(
    r"(?:(?:\bd\.?[ ]?o\.?[ ]?b\b\.?|\bdate[ ]+of[ ]+birth|\bbirth[ ]*date|\bbirthday|\bborn\b)"
    r"[^.;!?\n0-9]{0,30}"  # "born in Leeds on", "DOB recorded as"
    r"|\bb\.(?:[ ]*(?:[:=(),-]|\bon\b))*[ ]*)$",
    re.IGNORECASE,
)
_DOB_AFTER = re.compile(r"[ ]*[(\[,:-]?[ ]*(?:d\.?[ ]?o\.?[ ]?b\b|date[ ]+of[ ]+birth)",
                        re.IGNORECASE)
# Words that make an old date the date of an event in the history, not a birth.
_EVENT = re.compile(
    r"(?:\b(?:admi(?:tted|ssion)|discharged?|diagnos\w*|surgery|operation|op|procedure|repair"
    r"|replacement|resect\w*|\w+ectomy|\w+otomy|\w+ostomy|\w+plasty|\w+scopy|\w+graphy"
    r"|transplant\w*|biopsy|scan|x-?ray|fracture\w*|fall|stroke|infarct\w*|arrest|episode|event"
    r"|attack|since|until|from|seen|clinic|appointment|review\w*|treated|treatment|started"
    r"|stopped|commenced|inserted|fitted|implant\w*|history|hx|pmh|on|in|at|after|before"
    r"|died|death|sepsis|cancer|carcinoma|tumou?r)\b|(?-i:\b[A-Z]{2,6})[ ]*$)",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[.;!?\n][^.;!?\n]*$")

# Ten digits, separated or not by spaces, dots or dashes (any grouping), standing alone.
_DSEP = r"(?:[ ]{0,2}[.-]?[ ]{0,2})"
# Not a run of more digits, nor the decimals of a number ("0.9434765919"); a letter, full stop
# or underscore against it is no excuse ("seen.9434765919", "CHI_0101901232", "9434765919x").
_TEN_DIGITS = re.compile(rf"(?<![0-9])(?<![0-9][.,])[0-9](?:{_DSEP}[0-9]){{9}}(?![0-9]|[.-][0-9])")
_LABEL_BEFORE = re.compile(r"\b(?:nhs|chi|no|num|number|ref|id)$", re.IGNORECASE)
_POSTCODE = re.compile(
    r"(?<![0-9A-Za-z])[A-Z]{1,2}[0-9][A-Z0-9]?[ ]{0,2}[0-9][A-Z]{2}(?![0-9A-Za-z])", re.IGNORECASE
)
_ORDINAL_INWARD = re.compile(r"[0-9](?:st|nd|rd|th)$", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![0-9A-Za-z_.+-])[0-9A-Za-z_.+-]+@[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)+")
_PHONE = re.compile(
    r"(?<![0-9A-Za-z_+])(?:(?:\+|00)[ ]?44[ -]?(?:\(0\)[ -]?)?|\(?0)[0-9]{2,4}\)?"
    r"(?:[ .-]{0,2}[0-9]{2,4}){1,3}(?![0-9A-Za-z_])"
)
_HOSPITAL_NUMBER = re.compile(
    r"\b(?:MRN|M\.R\.N\.?|hosp(?:ital)?\.?[ ]*(?:number|no\.?|num\.?|#)"
    r"|(?:medical|health)[ ]+record[ ]+(?:number|no\.?)|unit[ ]+(?:number|no\.?)"
    r"|case[ ]*notes?[ ]+(?:number|no\.?)|patient[ ]+(?:number|no\.?|id)"
    r"|(?-i:[A-Z]{1,3})[ ]+(?:number|no\.?))"
    r"[ :#.=-]{0,4}(?:[A-Z]{1,3}[ ]?)?[0-9](?:[ -]?[0-9]){3,}",
    re.IGNORECASE,
)
# Cheap first looks (each starts with a digit, which re scans for quickly): a text without a
# match cannot hold what the pattern after it finds.
_FOUR_DIGITS = re.compile(r"[0-9](?:[ -]?[0-9]){3}")
_POSTCODE_LOOK = re.compile(r"[0-9][A-Za-z0-9]?[ ]{0,2}[0-9][A-Za-z]{2}(?![0-9A-Za-z])")
_ADDRESS_LOOK = re.compile(r"[0-9][A-Za-z]?,?[ ]{1,2}[A-Z]")
_STREETS = ("Street", "Road", "Avenue", "Lane", "Drive", "Close", "Crescent", "Way", "Gardens",
            "Terrace", "Place", "Court", "Grove", "Square", "Walk", "Mews", "Row", "Hill", "Park",
            "View", "Rise", "Parade", "Green", "Boulevard", "Vale", "Wynd", "Brae", "Gate")
_STREET_SHORT = ("St", "Rd", "Ave", "Ln", "Cres", "Gdns", "Tce", "Sq")
_BUILDINGS = ("House", "Court", "Lodge", "Mansions", "Tower", "Heights", "Buildings", "Cottage")
_STREET_WORDS = "|".join((*_STREETS, *(w.upper() for w in _STREETS), *_STREET_SHORT))
_FLAT = r"(?:Flat|FLAT|Apartment|APARTMENT|Apt)"
_PLACE_WORD = r"(?:[A-Z][a-z']+|[A-Z]{2,})"
_ADDRESS = re.compile(
    r"(?<![0-9A-Za-z.:/])(?:"
    rf"(?:{_FLAT}[ ]+[0-9]{{1,4}}[A-Za-z]?,?[ ]{{1,2}})?[0-9]{{1,4}}[A-Za-z]?,?[ ]{{1,2}}"
    rf"(?:{_PLACE_WORD}[ ]{{1,2}}){{1,3}}(?:{_STREET_WORDS})\b"
    rf"|{_FLAT}[ ]+[0-9]{{1,4}}[A-Za-z]?,?[ ]{{1,2}}(?:{_PLACE_WORD}[ ]{{1,2}}){{1,3}}"
    rf"(?:{_STREET_WORDS}|{'|'.join(_BUILDINGS)})\b"
    r")"
)


# Anything that might hold an identifier; a text without a match cannot contain one. Written
# for RE2 (pyarrow.compute), which screens a whole column in C++, so bulk validation runs the
# detailed Python checks only on candidates. It is on the text AS WRITTEN (RE2's \W takes in
# the no-break spaces and dashes that find_identifiers normalises) and must stay a superset of
# every pattern above: tests/test_privacy.py checks it on every example, the whole corpus and
# random texts, tests/test_privacy_differential.py on generated identifiers and near-misses.
_CANDIDATE_FIXED = (
    r"[0-9](?:\W{0,5}[0-9]){8,}"  # NHS/CHI and phone numbers (9+ digits)
    r"|[0-9]{1,2}\W{1,3}[0-9]{1,2}\W{1,3}[0-9]{2}|[0-9]{4}\W[0-9]{1,2}\W[0-9]{1,2}"  # dates
    rf"|[0-9](?:\W?(?i:st|nd|rd|th))?(?:\W{{1,2}}(?i:of))?\W{{0,3}}(?i:{_MONTHS})"
    rf"|(?i:{_MONTHS})\W{{1,3}}[0-9]"
    r"|@"
    r"|[0-9][A-Za-z0-9]?\W{0,2}[0-9][A-Za-z]{2}"  # postcodes (the inward code and before it)
    r"|(?i:mrn|m\.r\.n\.?|number|no\.?|num\.?|#|id)\W{0,4}[A-Za-z]{0,3}\W?[0-9]"  # hosp. no.
    # Addresses: a house or flat number, a capital, then (on the same line: _ADDRESS crosses
    # only spaces and letters) a street or building word. Ids such as "XA2-C000001" have the
    # number and the capital but no street word, so they are not candidates.
    rf"|[0-9][A-Za-z]?,?\W{{1,2}}[A-Z].*(?:{_STREET_WORDS}|{'|'.join(_BUILDINGS)})"
)


@lru_cache(maxsize=1)
def _candidate_pattern() -> str:
    """All candidate patterns as one alternation: one RE2 pass over the text instead of one per
    pattern (RE2 costs about the same per byte for any of them, and its DFA holds the union;
    measured: 4 passes 0.78 s, the union 0.23 s on 1.2M synthetic comments)."""
    return "|".join((_CANDIDATE_FIXED, *names.name_triggers_re2()))


def _candidates(texts: pa.Array) -> pa.Array:
    """True where a text matches any candidate pattern (one RE2 pass); null texts False."""
    return pc.fill_null(pc.match_substring_regex(texts, _candidate_pattern()), False)


def _year(date_text: str, *, today: _dt.date) -> int | None:
    """The year of a date as written (two-digit years: the latest past century)."""
    four = re.findall(r"[0-9]{4}", date_text)
    if four:
        return int(four[0]) if re.match(r"[0-9]{4}[/.-]", date_text) else int(four[-1])
    two = re.findall(r"[0-9]{2}", date_text)
    if not two:
        return None
    yy = int(two[-1])
    return 2000 + yy if 2000 + yy <= today.year else 1900 + yy


def _date_of_birth(text: str, start: int, end: int, *, today: _dt.date) -> bool:
    """Is the date at ``text[start:end]`` a date of birth? Introduced as one ("DOB", "born",
    "date of birth", "b.") or followed by "(DOB)": yes. Otherwise only a full date with a
    four-digit year at least 50 years back that is not the date of an event in the history
    ("CABG 14 June 2001", "appendicectomy 5 May 1972", "admitted on ...")."""
    year = _year(text[start:end], today=today)
    if year is None or not 1880 <= year <= today.year:
        return False
    before = text[max(0, start - 45) : start]
    if _DOB_BEFORE.search(before) or _DOB_AFTER.match(text, end):
        return True
    if not re.search(r"[0-9]{4}", text[start:end]) or year > today.year - 50:
        return False
    clause = before
    cut = _CLAUSE.search(before)
    if cut:
        clause = before[cut.start() + 1 :]
    return not _EVENT.search(clause)


def find_identifiers(text: str | None, *, today: _dt.date | None = None) -> list[Finding]:
    """Find direct identifiers in ``text``.

    Parameters
    ----------
    text : str
        Free text, e.g. an explicit judgement comment, or an id. ``None`` or blank gives no
        findings.
    today : datetime.date, optional
        Reference date for dates of birth (default: today).

    Returns
    -------
    list of Finding
        Non-overlapping findings ordered by position, each with ``kind``, ``start``, ``end`` and
        the matched ``text`` exactly as written (``text[start:end]``).

    Notes
    -----
    The text is matched after :func:`normalise` (no-break and thin spaces, en/em dashes, minus
    signs read as plain spaces and hyphens), one character for one, so positions refer to the
    text as written. Ten-digit numbers (spaces, dots or dashes between digits allowed) are
    reported only when they pass a check: an NHS number (modulus 11) or a CHI number (valid
    DDMMYY date and modulus 11 or 10). A date is a date of birth when introduced as one ("DOB",
    "d.o.b.", "born (on)", "date of birth", "b.") or followed by "(DOB)", or when it is a full
    date at least 50 years back that no event word introduces (a history date such as "CABG 14
    June 2001" or "appendicectomy 5 May 1972" is not). Day/month dates such as "10/03 CT head"
    are not identifiers. Names can only be guessed (:mod:`sjrlib.privacy_names`). Street
    addresses need a house or flat number and a street word ("12 Acacia Avenue", "Flat 3, 45
    High Street").
    """
    if text is None or not isinstance(text, str) or not text.strip():
        return []
    if today is None:
        from sjrlib.rules import uk_today  # here: sjrlib.rules imports this module

        today = uk_today()
    written = text
    text = normalise(text)
    found: list[Finding] = []

    def add(kind: str, start: int, end: int) -> None:
        found.append(Finding(kind, start, end, written[start:end]))

    for m in _TEN_DIGITS.finditer(text):
        if m.start() and text[m.start() - 1].isalpha() and not _LABEL_BEFORE.search(
                text, 0, m.start()):
            continue  # part of a code such as "ABC1234567890", not a number on its own
        digits = re.sub(r"[^0-9]", "", m.group())
        if _valid_ddmmyy(digits) and (_mod11_check(digits) or _mod10_check(digits)):
            add("chi_number", m.start(), m.end())
        elif _mod11_check(digits):
            add("nhs_number", m.start(), m.end())
    if "@" in text:
        for m in _EMAIL.finditer(text):
            add("email", m.start(), m.end())
    four = _FOUR_DIGITS.search(text) is not None
    if four:
        for m in _HOSPITAL_NUMBER.finditer(text):
            add("hospital_number", m.start(), m.end())
    for m in _DATE.finditer(text):
        if _date_of_birth(text, m.start(), m.end(), today=today):
            add("date_of_birth", m.start(), m.end())
    for m in _PHONE.finditer(text):
        digits = re.sub(r"[^0-9]", "", m.group())
        if len(digits) == 10 and _valid_ddmmyy(digits) \
                and (_mod11_check(digits) or _mod10_check(digits)):
            # A CHI number (a day 01-09 reads as a leading 0) that the ten-digit rule does not
            # see, written after a full stop ("CHI.0101901232"), in brackets or before "-1":
            # named and masked as the CHI number it is, not as a telephone number (whose mask
            # keeps three digits, here of the date of birth).
            add("chi_number", m.start(), m.end())
            continue
        if digits.startswith("0044"):
            digits = digits[4:]
        elif m.group().startswith("+"):
            digits = digits[2:]
        national = digits.lstrip("0")
        if 9 <= len(national) <= 10 and national[0] in "123578":
            add("phone", m.start(), m.end())
    for m in _POSTCODE.finditer(text) if _POSTCODE_LOOK.search(text) else ():
        if _ORDINAL_INWARD.search(m.group()) and not m.group().isupper():
            continue  # "A1 2nd": a bay and an ordinal, not a postcode
        add("postcode", m.start(), m.end())
    for m in _ADDRESS.finditer(text) if _ADDRESS_LOOK.search(text) else ():
        add("address", m.start(), m.end())
    for start, end in names.find_names(text):
        add("name", start, end)

    return _without_overlaps(found)


# Precedence when two findings overlap: the more specific kind wins.
_PRECEDENCE = {
    k: i
    for i, k in enumerate(
        ("nhs_number", "chi_number", "email", "hospital_number", "date_of_birth", "postcode",
         "phone", "address", "name")
    )
}


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (_PRECEDENCE[f.kind], f.start, -(f.end - f.start))):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def describe(findings: list[Finding]) -> str:
    """A short phrase for people, with each identifier masked (:func:`mask`):
    ``"NHS number '943 *** ****'; likely name 'M* *****'"``."""
    return "; ".join(f"{KINDS[f.kind]} '{mask(f)}'" for f in findings)


_KEEP = {"nhs_number": 3, "chi_number": 0, "phone": 3, "hospital_number": 3}


def mask(finding: Finding) -> str:
    """The finding's text with its letters and digits starred but the first few (3 digits of
    an NHS or phone number, the label of a hospital number, 1 character otherwise; none of a
    CHI number, whose first six digits are the date of birth): ``'943 *** ****'``."""
    keep = _KEEP.get(finding.kind, 1)
    if finding.kind == "hospital_number":
        label = re.match(r"[^0-9]*", finding.text)
        head = label.group() if label else ""
        return head + re.sub(r"[0-9A-Za-z]", "*", finding.text[len(head) :])
    out, seen = [], 0
    for c in finding.text:
        if c.isalnum():
            seen += 1
            out.append(c if seen <= keep else "*")
        else:
            out.append(c)
    return "".join(out)


_SMALL = 200
"""Up to this many texts, :func:`contains_identifiers` runs the detailed checks directly."""


def contains_identifiers(series: pd.Series, *, today: _dt.date | None = None) -> pd.Series:
    """Vectorised: True where a text holds at least one identifier (index preserved).

    Exactly ``bool(find_identifiers(text))`` for every text: an RE2 candidate pattern screens
    the whole column in C++ first (a text it passes over cannot hold anything
    :func:`find_identifiers` finds), then the candidates get the full checks, once per
    distinct text.
    """
    result = np.zeros(len(series), dtype=bool)
    if len(series) <= _SMALL:
        # A form's single review or a short file: the detailed checks straight away.
        checked: dict[str, bool] = {}
        present = series.notna().to_numpy(dtype=bool)
        for i, value in enumerate(series.tolist()):
            if present[i]:
                text = str(value)
                if text not in checked:
                    checked[text] = bool(find_identifiers(text, today=today))
                result[i] = checked[text]
        return pd.Series(result, index=series.index)
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        texts = series.array.__arrow_array__()  # the Arrow data itself: no Python strings
        positions = None
    else:
        present = series.notna().to_numpy(dtype=bool)
        if not present.any():
            return pd.Series(result, index=series.index)
        positions = np.flatnonzero(present)
        texts = pa.array(series[present].astype(str).tolist(), type=pa.large_string())
    # Free text repeats itself (templates, "N/A", copied sentences): each distinct text is
    # screened once, by RE2 and, if a candidate, by the detailed checks.
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.chunk(0) if texts.num_chunks == 1 else texts.combine_chunks()
    encoded = pc.dictionary_encode(texts)
    distinct = encoded.dictionary
    candidate = _candidates(distinct)
    if pc.any(candidate).as_py():
        where = np.flatnonzero(np.asarray(candidate, dtype=bool))
        found = distinct.take(pa.array(where))
        # A candidate only through a name trigger (a title, a cue, two capitalised words: most
        # candidates in clinical prose) can hold nothing but a name: _CANDIDATE_FIXED is a
        # superset of every other kind, so only the name rules need to run on it.
        others = np.asarray(pc.fill_null(pc.match_substring_regex(found, _CANDIDATE_FIXED),
                                         False), dtype=bool)
        hits = np.zeros(len(distinct), dtype=bool)
        hits[where] = [bool(find_identifiers(t, today=today)) if other
                       else bool(names.find_names(normalise(t)))
                       for t, other in zip(found.to_pylist(), others.tolist(), strict=True)]
        if hits.any():
            indices = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
            found = hits[indices] & np.asarray(encoded.indices.is_valid(), dtype=bool)
            if positions is not None:
                result[positions] = found
            else:
                result[:] = found
    return pd.Series(result, index=series.index)


def redact_values(values: list) -> list:
    """``values`` with every text holding an identifier redacted (:func:`redact`); anything
    else unchanged. For error messages, audit entries and logs: what was refused is never
    written out as it was."""
    texts = [v if isinstance(v, str) else None for v in values]
    if not any(texts):
        return list(values)
    flagged = contains_identifiers(pd.Series(texts, dtype=object)).tolist()
    return [redact(v) if hit else v for v, hit in zip(values, flagged, strict=True)]


def redact(text: str | None) -> str | None:
    """Replace every identifier found by :func:`find_identifiers` with ``[KIND]``.

    For researchers' extracts only; clinical text entered by reviewers is never changed.
    """
    if text is None or (not isinstance(text, str)):
        return text
    out = []
    pos = 0
    for f in find_identifiers(text):
        out.append(text[pos : f.start])
        out.append(f"[{f.kind.upper()}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
