"""docs/importing.md: its reviews table is the registry's (regenerated, it is unchanged), and it
names every column of the review frame with what the import accepts."""

from __future__ import annotations

import re
from pathlib import Path

from sjrlib import domain
from sjrlib.form import columns_doc

PAGE = Path(__file__).resolve().parents[1] / "docs" / "importing.md"


def test_the_page_holds_the_registrys_table():
    text = PAGE.read_text(encoding="utf-8")
    assert columns_doc.updated(text) == text, (
        "docs/importing.md is out of date: run "
        "`.venv/bin/python -m sjrlib.form.columns_doc docs/importing.md`")


def test_every_review_column_is_on_the_page_with_what_it_takes():
    text = PAGE.read_text(encoding="utf-8")
    table = text.split(columns_doc.BEGIN)[1].split(columns_doc.END)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9_]+)` \|.*$", table,
                                                        re.MULTILINE)}
    assert set(rows) == set(domain.REVIEW_COLUMNS)
    # written by hand from the exchange format: a few columns and what they take
    assert "`male` / `female` / `unknown`" in rows["sex"]
    assert "a whole number 18-120" in rows["age_at_death"] and "required" in rows["age_at_death"]
    assert "`;`-separated" in rows["review_reasons"]
    assert "ext2026" in rows["family_concern"] and "rcp2017" not in rows["family_concern"]
    for name in ("organisation_code", "month", "deaths_in_scope", "learning_disability_deaths"):
        assert f"| `{name}` |" in text  # the deaths feed's columns, written by hand
