"""Finding direct identifiers in free text.

The RCP form records no name, NHS/CHI number, date of birth or full postcode, and the explicit
judgement comments must not carry them either (``shared/spec/privacy-and-disclosure.md``). This
module *finds* identifiers and says what and where, so a reviewer can fix the text; it never alters
clinical text on entry. :func:`redact` is for researchers' extracts only.

Kinds reported: ``nhs_number``, ``chi_number``, ``postcode``, ``email``, ``phone``,
``hospital_number``, ``date_of_birth``, ``name``.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "KINDS",
    "Finding",
    "chi_number_is_valid",
    "contains_identifiers",
    "describe",
    "find_identifiers",
    "nhs_number_is_valid",
    "redact",
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
    "name": "likely name (title followed by a capitalised word)",
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
    """True if ``number`` (spaces and dashes allowed) is a 10-digit NHS number with a valid
    modulus-11 check digit. Example: ``nhs_number_is_valid("943 476 5919") is True``."""
    digits = re.sub(r"[\s-]", "", number)
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


# --- patterns -------------------------------------------------------------------------------

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"  # 12/03/1950, 12-3-50
    r"|\d{4}-\d{2}-\d{2}"  # 1950-03-12
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\.?,?\s+\d{{4}}"  # 12th March 1950
    rf"|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"  # March 12, 1950
)

# Ten digits, optionally separated by single spaces or dashes (any grouping), standing alone.
_TEN_DIGITS = re.compile(r"(?<![\w.])\d(?:[ \t-]?\d){9}(?![\w]|[.-]\d)")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b", re.IGNORECASE)
_ORDINAL_INWARD = re.compile(r"[0-9](?:st|nd|rd|th)$", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+44[\s-]?(?:\(0\)[\s-]?)?|\(?0)\d{2,4}\)?(?:[\s-]?\d{2,4}){1,3}(?![\w])"
)
_HOSPITAL_NUMBER = re.compile(
    r"\b(?:MRN|M\.R\.N\.?|hosp(?:ital)?\.?\s*(?:number|no\.?|num\.?|#)"
    r"|(?:medical|health)\s+record\s+(?:number|no\.?)|unit\s+(?:number|no\.?)"
    r"|case\s*notes?\s+(?:number|no\.?)|patient\s+(?:number|no\.?|id))"
    r"[\s:#.=-]*[A-Z]{0,3}\d[\d\s-]{3,}\d?",
    re.IGNORECASE,
)
_DOB_KEYWORD = re.compile(
    rf"\b(?:d\.?o\.?b\.?|date\s+of\s+birth|born(?:\s+on)?|birth\s*date)[\s:.-]*({_DATE})",
    re.IGNORECASE,
)
_BARE_DATE = re.compile(rf"(?<![\w/.-])({_DATE})(?![\w/]|[.-]\d)", re.IGNORECASE)
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sister|Rev|Revd|Sir|Dame|Lady|Lord)"
_NAME = re.compile(rf"\b{_TITLES}\.?[ \t]+([A-Z][a-zA-Z'’-]+)")
# Capitalised words that commonly follow a title in clinical text without being a name.
_NOT_NAMES = frozenset(
    {
        "On", "In", "At", "Of", "The", "And", "Or", "To", "For", "Was", "Is", "Were", "Review",
        "Reviewed", "Registrar", "Consultant", "Team", "Practitioner", "Nurse", "Ward",
    }
)

# Anything that might hold an identifier; a text without a match cannot contain one. Written
# for RE2 (pyarrow.compute), which screens a whole column in C++ at about 1 microsecond a text,
# so bulk validation runs the detailed Python checks only on the few candidates. It must stay a
# superset of every detector above (tests/test_privacy.py checks it on every example).
_CANDIDATE_RE2 = (
    r"\d(?:[ \t()./-]{0,2}\d){8,}"  # NHS/CHI numbers, phone numbers (9+ digits)
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{1,2}-\d{1,2}"  # numeric dates with a full year
    r"|@"
    r"|[A-Za-z][0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}"  # postcodes
    rf"|\b{_TITLES}\.?[ \t]+[A-Z]"  # names (case-sensitive, as _NAME)
    r"|(?i:\bd\.?o\.?b\b|birth|\bborn\b|\bmrn\b|m\.r\.n|\bhosp|record\s+(?:number|no)"
    r"|\bunit\s+(?:number|no)|\bpatient\s+(?:number|no|id)|case\s*notes?\s+(?:number|no))"
    rf"|\d(?i:st|nd|rd|th)?\s+(?i:{_MONTHS})|(?i:{_MONTHS})\.?\s+\d"
)


def _year_of(date_text: str) -> int | None:
    years = re.findall(r"\d{4}", date_text)
    if years:
        return int(years[-1])
    return None


def find_identifiers(text: str | None, *, today: _dt.date | None = None) -> list[Finding]:
    """Find direct identifiers in ``text``.

    Parameters
    ----------
    text : str
        Free text, e.g. an explicit judgement comment. ``None`` or blank gives no findings.
    today : datetime.date, optional
        Reference date for treating a bare full date as a date of birth (default: today).

    Returns
    -------
    list of Finding
        Non-overlapping findings ordered by position, each with ``kind``, ``start``, ``end`` and
        the matched ``text``.

    Notes
    -----
    Ten-digit numbers are reported only when they pass a check: an NHS number (modulus 11) or a
    CHI number (valid DDMMYY date and modulus 11 or 10); other ten-digit numbers are not flagged.
    A date is a date of birth when introduced as one ("DOB", "born", "date of birth") or when it
    is a full date at least 18 years before ``today`` (the patients are adults; events in a case
    record are recent). Day/month dates such as "10/03 CT head" are not identifiers. Names can
    only be guessed: a title followed by a capitalised word ("Mr Smith", "Dr Jones").
    """
    if text is None or not isinstance(text, str) or not text.strip():
        return []
    today = today or _dt.date.today()
    found: list[Finding] = []

    for m in _TEN_DIGITS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _valid_ddmmyy(digits) and (_mod11_check(digits) or _mod10_check(digits)):
            found.append(Finding("chi_number", m.start(), m.end(), m.group()))
        elif _mod11_check(digits):
            found.append(Finding("nhs_number", m.start(), m.end(), m.group()))
    for m in _EMAIL.finditer(text):
        found.append(Finding("email", m.start(), m.end(), m.group()))
    for m in _HOSPITAL_NUMBER.finditer(text):
        end = m.end()
        while end > m.start() and not text[end - 1].isalnum():
            end -= 1
        found.append(Finding("hospital_number", m.start(), end, text[m.start() : end]))
    for m in _DOB_KEYWORD.finditer(text):
        found.append(Finding("date_of_birth", m.start(), m.end(), m.group()))
    for m in _BARE_DATE.finditer(text):
        year = _year_of(m.group(1))
        if year is not None and 1880 <= year <= today.year - 18:
            found.append(Finding("date_of_birth", m.start(), m.end(), m.group()))
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        national = digits[2:] if digits.startswith("44") else digits.lstrip("0")
        if 9 <= len(national) <= 10 and national[0] in "123578":
            found.append(Finding("phone", m.start(), m.end(), m.group()))
    for m in _POSTCODE.finditer(text):
        if _ORDINAL_INWARD.search(m.group()) and not m.group().isupper():
            continue  # "A1 2nd": a bay and an ordinal, not a postcode
        found.append(Finding("postcode", m.start(), m.end(), m.group()))
    for m in _NAME.finditer(text):
        if m.group(1) not in _NOT_NAMES:
            found.append(Finding("name", m.start(), m.end(), m.group()))

    return _without_overlaps(found)


# Precedence when two findings overlap: the more specific kind wins.
_PRECEDENCE = {
    k: i
    for i, k in enumerate(
        ("nhs_number", "chi_number", "email", "hospital_number", "date_of_birth", "postcode",
         "phone", "name")
    )
}


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (_PRECEDENCE[f.kind], f.start, -(f.end - f.start))):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def describe(findings: list[Finding]) -> str:
    """A short phrase for people: ``"NHS number '943 476 5919'; likely name 'Mr Smith'"``."""
    return "; ".join(f"{KINDS[f.kind]} '{f.text}'" for f in findings)


def contains_identifiers(series: pd.Series) -> pd.Series:
    """Vectorised: True where a text holds at least one identifier (index preserved).

    An RE2 candidate pattern screens the whole column in C++ first; only candidates get the full
    checks of :func:`find_identifiers`, so validating millions of comments stays fast.
    """
    result = np.zeros(len(series), dtype=bool)
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        texts = series.array.__arrow_array__()  # the Arrow data itself: no Python strings
        positions = None
    else:
        present = series.notna().to_numpy(dtype=bool)
        if not present.any():
            return pd.Series(result, index=series.index)
        positions = np.flatnonzero(present)
        texts = pa.array(series[present].astype(str).tolist(), type=pa.large_string())
    candidate = pc.fill_null(pc.match_substring_regex(texts, _CANDIDATE_RE2), False)
    if pc.any(candidate).as_py():
        found = texts.filter(candidate)
        # Free text repeats itself (templates, "N/A"): check each distinct candidate once.
        distinct = pc.unique(found)
        hits = np.array([bool(find_identifiers(t)) for t in distinct.to_pylist()], dtype=bool)
        where = np.flatnonzero(np.asarray(candidate, dtype=bool))
        if positions is not None:
            where = positions[where]
        lookup = pc.index_in(found, value_set=distinct).to_numpy(zero_copy_only=False)
        result[where] = hits[lookup]
    return pd.Series(result, index=series.index)


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
