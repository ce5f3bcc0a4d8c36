"""A trust's own codes for the specialty team at death and the location of death (issue 12,
item 4), brought in with a column mapping's ``values:``.

``tests/data/trust_codes_export.csv`` and its mapping are written by hand, as a trust's export
would come: main specialty codes (300, 430, 315) and ward codes (WD, ITU, HOSP, DL) in columns
of its own names. The expected answers below are read off the mapping by hand. The worked
example is in ``docs/adding-a-question.md`` ("A trust's own codes").
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from data_access import store
from data_access.session import bootstrap_administrator
from sjrlib import io
from sjrlib.cli import app
from sjrlib.schema import ValidationFailed

DATA = Path(__file__).parent / "data"
EXPORT = DATA / "trust_codes_export.csv"
MAPPING = DATA / "trust_codes_mapping.yaml"
ADMIN = "codes-admin"
STORED = {"W1": ("care_of_the_elderly", "ward"), "W2": ("general_medicine", "critical_care"),
          "W3": ("other", "other"), "W4": (None, "other")}


def _answers(reviews) -> dict[str, tuple]:
    """``{review_id: (specialty, location_of_death)}``, a blank as None."""
    reviews = reviews.astype(object).where(reviews.notna(), None)
    return {r.review_id: (r.specialty, r.location_of_death) for r in reviews.itertuples()}


def _without_codes(tmp_path: Path, **dropped: str) -> Path:
    """The trust's mapping less some of its codes (``column=their code``): what an old or a
    new code of theirs meets before anyone has mapped it."""
    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    for column, code in dropped.items():
        del mapping["values"][column][code]
    path = tmp_path / "incomplete_mapping.yaml"
    path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return path


def test_the_trusts_codes_become_the_forms_answers():
    assert _answers(io.read_reviews(EXPORT, mapping=MAPPING)) == STORED


def test_an_unmapped_code_is_refused_naming_file_row_field_and_the_answers(tmp_path):
    mapping = _without_codes(tmp_path, specialty="315", location_of_death="DL")
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(EXPORT, mapping=mapping)
    errors = caught.value.errors
    assert [(e.source, e.row, e.column, e.value, e.rule) for e in errors] == [
        ("trust_codes_export.csv", 4, "'Team at death' (specialty)", "315", "code_list"),
        ("trust_codes_export.csv", 5, "'Place of death' (location_of_death)", "DL", "code_list"),
    ]
    specialty, location = (str(e) for e in errors)
    for answer in ("general_medicine", "care_of_the_elderly", "other"):
        assert answer in specialty
    for answer in ("ward", "critical_care", "emergency_department", "other"):
        assert answer in location
    assert "values:" in specialty and "sjr import --mapping" in location


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    store.init_db(url)
    bootstrap_administrator(ADMIN, url)
    return url


def _sjr(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"SJR_USER": ADMIN})


def test_sjr_import_stores_the_mapped_codes_or_nothing(url, tmp_path):
    assert _sjr("import", "organisations", DATA / "organisations.csv", "--db", url).exit_code == 0
    refused = _sjr("import", "reviews", EXPORT, "--db", url, "--mapping",
                   _without_codes(tmp_path, location_of_death="HOSP"))
    assert refused.exit_code == 1
    assert ("row 4, column 'Place of death' (location_of_death) (value 'HOSP')"
            in refused.output)
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            assert store.load_reviews(conn).empty  # all or nothing
        assert _sjr("import", "reviews", EXPORT, "--db", url, "--mapping", MAPPING).exit_code == 0
        with engine.connect() as conn:
            stored = store.load_reviews(conn)
    finally:
        engine.dispose()
    assert _answers(stored) == STORED
