"""Each field of the registry is declared once: no module writes a list of fields out again.

Issue 12's acceptance: ``grep`` finds each field's id in the registry and in the tests, not
re-listed across modules. This test does that grep on the package sources (``sjrlib/``,
``data_access/``, the notebooks' code cells) with Python's own parser, so that only string
literals count (not comments, docstrings' prose or longer names containing an id).

A field id in a string literal is a *use* when it names one column to read or write
(``reviews["age_at_death"]``); a literal list, tuple or set naming several fields is a *list of
fields*. A list of fields is a re-listing, and fails here, when

* it holds (nearly) the same fields as a list the registry derives (a privacy class, the
  questions of a form version, a section, the required or group-by columns): it is a copy of
  that list, and will one day disagree with it; or
* another module writes the same list again: two copies of one list.

Frozen history (Alembic migrations) is left out, and :data:`ALLOWED` names the few places
whose lists are choices of their own, each with the reason. Dicts are not lists of fields: a
dict maps each field to its own value or code (the synthetic generator's columns).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from sjrlib.form.registry import BASE_VERSION, FORM_VERSIONS, SECTIONS, Privacy, registry

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("sjrlib", "data_access")
REGISTRY = Path("sjrlib/form/registry.py")
FROZEN = Path("data_access/migrations")
"""Migrations are history: each creates the columns of its day and never changes again."""
MIN_FIELDS = 3
"""A literal naming this many fields or more is a list of fields."""
NEARLY = 0.75
"""A list sharing this share of its union with a derived list is a copy of it (Jaccard)."""

ALLOWED: dict[tuple[str, str], str] = {
    # (file, the name the list is assigned to, else the function it is in): why it is not a
    # copy. Empty: every re-listing found so far was derived instead (the extract's
    # generalised columns from the quasi-identifier class, the statistics' index columns
    # from ReviewIndex.COLUMNS).
}


def _field_ids() -> set[str]:
    reg = registry()
    ids = {q.id for q in reg.questions} | set(reg.column_names())
    for q in reg.child_rows():
        ids |= {q.value.id} | ({q.companion.id} if q.companion is not None else set())
    return ids


def _derived_lists() -> dict[str, frozenset[str]]:
    """Lists the registry derives, by what they are."""
    reg = registry()
    out = {f"privacy {p.value}": reg.columns_of_privacy(p) for p in Privacy}
    out["screened"] = reg.screened_columns()
    out["group by"] = tuple(reg.group_by_columns())
    out["required"] = tuple(c.name for c in reg.columns() if c.spec.required)
    for version in FORM_VERSIONS:
        out[f"columns of {version}"] = reg.column_names(version)
        if version != BASE_VERSION:
            out[f"questions only {version} asks"] = tuple(
                q.id for q in reg.fields(version) if not q.asked_in(BASE_VERSION))
            out[f"columns only {version} asks"] = reg.columns_not_in(BASE_VERSION)
    for section in SECTIONS:
        out[f"section {section.id}"] = tuple(
            c.name for q in reg.questions if q.section == section.id for c in q.columns())
    return {k: frozenset(v) for k, v in out.items() if len(v) >= MIN_FIELDS}


def _sources() -> list[tuple[str, str]]:
    """``(place, Python source)`` of every package module and notebook code cell."""
    out = []
    for package in SOURCES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel != REGISTRY and FROZEN not in rel.parents:
                out.append((str(rel), path.read_text(encoding="utf-8")))
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = ["\n".join(line for line in "".join(c["source"]).splitlines()
                          if not line.lstrip().startswith(("%", "!")))  # IPython magics
                for c in cells if c["cell_type"] == "code"]
        out.append((str(path.relative_to(ROOT)), "\n\n".join(code)))
    return out


def _lists_of_fields(source: str, ids: set[str]) -> list[tuple[str, int, frozenset[str]]]:
    """``(where, line, fields)`` of each literal list, tuple or set naming several fields;
    ``where`` is the name it is assigned to, else the function it is in, else ``<module>``."""
    tree = ast.parse(source)
    found = []

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            where = node.name
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            where = names[0] if names else where
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            named = frozenset(e.value for e in node.elts if isinstance(e, ast.Constant)
                              and isinstance(e.value, str) and e.value in ids)
            if len(named) >= MIN_FIELDS:
                found.append((where, node.lineno, named))
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(tree, "<module>")
    return found


def _relistings() -> list[str]:
    ids, derived = _field_ids(), _derived_lists()
    lists = [(place, where, line, named) for place, source in _sources()
             for where, line, named in _lists_of_fields(source, ids)
             if (place, where) not in ALLOWED]
    problems = []
    by_set: dict[frozenset[str], list[str]] = defaultdict(list)
    for place, where, line, named in lists:
        by_set[named].append(place)
        for what, fields in derived.items():
            if len(named & fields) / len(named | fields) >= NEARLY:
                problems.append(f"{place}:{line} ({where}) lists {sorted(named)}: a copy of the "
                                f"registry's {what} {sorted(fields)}")
    for named, places in by_set.items():
        if len(set(places)) > 1:
            problems.append(f"{sorted(named)} is written out in {sorted(set(places))}")
    return problems


def test_no_module_re_lists_the_registrys_fields():
    problems = _relistings()
    assert not problems, "fields re-listed outside the registry (derive them from it, see " \
        "docs/adding-a-question.md):\n" + "\n".join(problems)


def test_every_allowed_place_still_holds_a_list_of_fields():
    """An allow-list entry whose list has gone (derived since) is removed, not kept."""
    ids = _field_ids()
    seen = {(place, where) for place, source in _sources()
            for where, _, _ in _lists_of_fields(source, ids)}
    assert set(ALLOWED) <= seen, sorted(set(ALLOWED) - seen)


def test_every_field_is_named_in_the_tests():
    """Each question id (and the column prefix of child rows) is found by grep in the tests,
    outside this file: a field no test names is a field nothing checks."""
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py")
                      if p.name != Path(__file__).name)
    reg = registry()
    names = {q.id for q in reg.questions} | {q.value.id for q in reg.child_rows()}
    missing = sorted(n for n in names if n not in tests)
    assert not missing, missing


@pytest.mark.parametrize(("source", "flagged"), [
    ('SCREENED = ("review_id", "case_id", "second_review_of", "reviewer_id")\n', True),
    ('TAKEN = {"autism", "me_scrutiny", "me_concern", "family_concern", "family_involved",\n'
     '         "family_feedback", "escalation_plan", "dying_recognised",\n'
     '         "clinical_frailty_scale", "referral"}\n', True),
    ('frame[["age_at_death", "sex"]]\n', False),
    ('COLUMNS = {"age_at_death": 1, "sex": 2, "specialty": 3, "death_month": 4}\n', False),
])
def test_the_check_finds_a_copy_written_by_hand(source, flagged):
    """The check itself, on hand-written modules: copies of a privacy class and of the ext2026
    questions are found; a two-column read and a dict of per-field values are not lists."""
    ids, derived = _field_ids(), _derived_lists()
    lists = _lists_of_fields(source, ids)
    copies = [what for _, _, named in lists for what, fields in derived.items()
              if len(named & fields) / len(named | fields) >= NEARLY]
    assert bool(copies) is flagged, (lists, copies)


_QUASI_IDENTIFIER_WITHOUT_LADDER = textwrap.dedent('''
    from sjrlib.form import registry as r

    r.register(r.Field("ward_code", "Ward at death", r.Kind.TEXT, "case",
                       r.Privacy.QUASI_IDENTIFIER))
    from data_access import anonymity
''')


def test_a_quasi_identifier_without_a_generalisation_is_refused():
    """k-anonymity groups the quasi-identifiers its own way (its ladders), but every field the
    registry classes as one must be among them: a new one is refused, not released as
    recorded."""
    done = subprocess.run([sys.executable, "-c", _QUASI_IDENTIFIER_WITHOUT_LADDER],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "quasi-identifiers ['ward_code'] have no generalisation" in done.stderr
