"""A review's child rows (phase assessments, problems, reasons, referrals) are stored the same
whichever way a bulk import writes them: ``COPY`` of Arrow columns on PostgreSQL (a block of
500 rows or more, ``data_access.bulk._copy_children``) and tuples into SQLite. The same
hand-written file goes into the database under test and into a SQLite file; the child tables
must hold exactly the same rows."""

from __future__ import annotations

from test_import_cli import dump, sjr
from test_reimport import write_reviews
from test_rules import ext, review

from sjrlib import domain

CHILDREN = ("phase_assessments", "problems", "review_reasons", "referrals")
REASONS = ["random_sample", "alarm; elective", " staff_concern ;alarm;alarm ",
           "learning_disability;;family_concern", "medical_examiner; random_sample; alarm",
           "elective"]


def _rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        make = ext if i % 3 == 0 else review
        changes = {"review_id": f"K{i:04d}", "case_id": f"C-{i:05d}",
                   "review_reasons": REASONS[i % len(REASONS)]}
        for j, phase in enumerate(domain.PHASES):
            if phase == "overall" or (i + j) % 2:  # some phases blank, the others scored
                changes[domain.score_column(phase)] = str(1 + (i + j) % 5)
                changes[domain.comment_column(phase)] = f"Care in phase {phase}, review {i}."
            else:
                changes[domain.score_column(phase)] = ""
                changes[domain.comment_column(phase)] = ""
        for j, problem in enumerate(domain.PROBLEM_TYPES):
            if (i * 7 + j) % 5 == 0:
                changes[domain.problem_column(problem)] = domain.HARM_VALUES[(i + j) % 3]
        rows.append(make(**changes))
    return rows


def test_child_rows_are_the_same_through_copy_and_through_sqlite(db_url, tmp_path):
    rows = _rows(700)
    path = write_reviews(tmp_path / "children.csv", rows)
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    for url in (db_url, reference):
        assert sjr("import", "organisations", "tests/data/organisations.csv", "--db", url) \
            .exit_code == 0
        result = sjr("import", "reviews", path, "--db", url)
        assert result.exit_code == 0, result.output
        assert "700 inserted" in result.output
    got, expected = dump(db_url), dump(reference)
    for table in CHILDREN:
        assert got[table] == expected[table], table
    assert len(expected["phase_assessments"]) > 2000
    assert len(expected["problems"]) > 100
    assert len(expected["review_reasons"]) > 1000
    assert len(expected["referrals"]) > 200
