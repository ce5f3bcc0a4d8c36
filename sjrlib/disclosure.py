"""Statistical disclosure control of published tables (below national level).

The default rule is NHS Digital's for Hospital Episode Statistics (since 2018), as the programme's
reference (``shared/spec/privacy-and-disclosure.md``) states it:

* a count from 1 to 7 is replaced by ``*``; zero stays 0;
* every other count is rounded to the nearest 5;
* a percentage or mean is not shown when it is based on 1-7 cases;
* where a suppressed cell could be recovered from a row or column total, a second cell is
  suppressed (secondary suppression).

The threshold and the rounding base are configurable (older HQIP practice: suppress under 5, no
rounding: ``DisclosureRule(threshold=4, rounding=1)``).

A protected table is an ``object`` frame whose cells are ``int`` (the rounded count) or the
suppression symbol, so it can go to HTML or Excel unchanged. :func:`suppression_mask` gives the
cells that are withheld, so that charts can follow the same rule (no bar for a suppressed cell).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "DisclosureRule",
    "FROM_SHOWN",
    "PERCENT_PINNED",
    "PrintedElsewhere",
    "SUPPRESSED",
    "charted_share",
    "count_range",
    "differencing_risk",
    "differencing_withheld",
    "interval_text",
    "percent_not_shown",
    "published_rate",
    "published_share",
    "protect_count",
    "protect_counts",
    "protect_rate",
    "protect_rates",
    "suppression_mask",
    "wilson",
]

SUPPRESSED = "*"
"""The symbol shown in place of a suppressed count."""


@dataclass(frozen=True)
class DisclosureRule:
    """How counts are protected before a table leaves the store.

    Parameters
    ----------
    threshold
        Counts from 1 to ``threshold`` (inclusive) are suppressed. 0 turns suppression off.
    rounding
        Other counts are rounded to the nearest multiple of ``rounding`` (halves go up).
        1 turns rounding off.
    symbol
        What a suppressed cell shows.
    """

    threshold: int = 7
    rounding: int = 5
    symbol: str = SUPPRESSED

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"disclosure threshold must be 0 or more, not {self.threshold}")
        if self.rounding < 1:
            raise ValueError(f"disclosure rounding base must be 1 or more, not {self.rounding}")

    @classmethod
    def off(cls) -> DisclosureRule:
        """No control at all (national-level tables)."""
        return cls(threshold=0, rounding=1)

    @property
    def active(self) -> bool:
        """Whether this rule changes anything."""
        return self.threshold > 0 or self.rounding > 1

    def is_small(self, count: object) -> bool:
        """Whether one count would be suppressed (1 to ``threshold``)."""
        if count is None or count is pd.NA or (isinstance(count, float) and math.isnan(count)):
            return False
        return 1 <= int(count) <= self.threshold

    def round(self, count: int) -> int:
        """Round one count to the nearest ``rounding`` (halves up); zero stays 0."""
        if self.rounding == 1:
            return int(count)
        return int(math.floor(int(count) / self.rounding + 0.5) * self.rounding)

    def base_allowed(self, base: object) -> bool:
        """Whether a percentage or mean on ``base`` cases may be shown.

        Not on 1 to ``threshold`` cases (disclosure), and not on none (undefined).
        """
        if base is None or base is pd.NA or (isinstance(base, float) and math.isnan(base)):
            return False
        return int(base) > 0 and not self.is_small(base)

    def describe(self) -> str:
        """One sentence for a table note, e.g. for the reader of a trust report."""
        if not self.active:
            return "Counts are shown unrounded."
        parts = []
        if self.threshold > 0:
            parts.append(
                f"counts from 1 to {self.threshold} are shown as {self.symbol} "
                "(with a second cell withheld where a total would reveal one)"
            )
        if self.rounding > 1:
            parts.append(f"other counts are rounded to the nearest {self.rounding}")
        if self.threshold > 0:
            parts.append(f"percentages and means based on 1 to {self.threshold} cases are withheld")
        text = "; ".join(parts)
        return "Disclosure control: " + text + "."


def protect_count(count: object, rule: DisclosureRule) -> int | str | None:
    """Protect a single count: the rounded value, the symbol, or ``None`` when missing."""
    if count is None or count is pd.NA or (isinstance(count, float) and math.isnan(count)):
        return None
    if rule.is_small(count):
        return rule.symbol
    return rule.round(int(count))


@dataclass(frozen=True)
class PrintedElsewhere:
    """Cells of the table being protected that count exactly the same people as a sum of
    cells another table of the same report prints, and so are printed as that sum as printed
    (:func:`protect_counts`: ``*`` when any of them is withheld), telling nothing beyond it.

    ``cells``: each outside cell's name and its text as printed (``"*"``, a rounded count,
    ``"0"``; None: not printed); ``sums``: that table's own margins among them (``(parts,
    total)`` by name); ``equal``: ``{(row, column): [names]}``, this table's cells that are
    the sum of those cells. The hardening attack reads the outside cells as a reader does
    (a ``*`` there a controlled small count, a rounded one its range) with both tables'
    relations and the equalities, and withholds cells of this table until it narrows none
    of them (nor this table's own). An ext2026 question's "All reviews asked" row when every
    review was asked (:mod:`sjrlib.report.form_questions`): an audit of the demo's reports
    (2026-12-06) found the care table's overall row pinned by it (XG4) and a ``*`` left at
    1-4 (XD1)."""

    cells: Mapping[Hashable, object]
    equal: Mapping[tuple[Hashable, Hashable], Sequence[Hashable]]
    sums: Sequence[tuple[Sequence[Hashable], Hashable]] = field(default_factory=tuple)
    within: Mapping[tuple[Hashable, Hashable], Sequence[Hashable]] = field(default_factory=dict)
    """``{(row, column): [names]}``: this table's cells that count some of the people the
    outside cells' sum counts (at most it), printed as their own counts: a "Reasons for
    review" row of learning disability beside the learning disability table's year of
    reviewed (:meth:`sjrlib.report.trust.TrustReport.review_reasons`). A ``None`` outside
    cell is one not printed (a rest of 0 or more, e.g. the deaths not reviewed)."""

    def shown(self, cell: tuple[Hashable, Hashable], rule: DisclosureRule) -> object:
        """What ``cell`` prints: the sum of its outside cells as printed, ``*`` with any
        withheld (or not printed)."""
        texts = [self.cells[name] for name in self.equal[cell]]
        if any(t is None or str(t) == rule.symbol for t in texts):
            return rule.symbol
        return sum(int(t) for t in texts)  # type: ignore[call-overload]


def _relations(
    table: pd.DataFrame,
    columns: Sequence[Hashable],
    total_row: Hashable | None,
    total_column: Hashable | None,
    parts: Sequence[Hashable] | None = None,
    row_sums: Sequence[tuple[Sequence[Hashable], Hashable]] = (),
) -> list[tuple[list[tuple[Hashable, Hashable]], tuple[Hashable, Hashable]]]:
    """Additive relations ``(cells, total cell)`` declared by the margins of ``table`` (and
    by ``row_sums``: in every row, those columns add up to that one)."""
    relations = []
    for cols, total in row_sums:
        for r in table.index:
            relations.append(([(r, c) for c in cols], (r, total)))
    body_rows = [r for r in table.index if r != total_row]
    if total_column is not None:
        if parts is None:
            parts = [c for c in columns if c != total_column]
        for r in table.index:
            relations.append(([(r, c) for c in parts], (r, total_column)))
    if total_row is not None:
        for c in columns:
            relations.append(([(r, c) for r in body_rows], (total_row, c)))
    return relations


def suppression_mask(
    table: pd.DataFrame,
    rule: DisclosureRule,
    *,
    columns: Sequence[Hashable] | None = None,
    total_row: Hashable | None = None,
    total_column: Hashable | None = None,
    parts: Sequence[Hashable] | None = None,
    withheld: pd.DataFrame | None = None,
    known: Mapping[tuple[Hashable, Hashable], Sequence[tuple[int, int | None]]] | None = None,
    pooled: Sequence[pd.DataFrame] | None = None,
    row_sums: Sequence[tuple[Sequence[Hashable], Hashable]] = (),
    at_most: Sequence[tuple[tuple[Hashable, Hashable], tuple[Hashable, Hashable]]] = (),
    elsewhere: PrintedElsewhere | None = None,
) -> pd.DataFrame:
    """Which cells of a count table are withheld: primary and secondary suppression.

    Parameters
    ----------
    table
        Counts (integers, missing allowed). Index labels must be unique.
    rule
        The disclosure rule.
    columns
        The count columns to protect (default: all).
    total_row
        Index label of a row holding column totals of the other rows, if shown.
    total_column
        Label of a column holding the sum of the other ``columns`` in its row, if shown.
    parts
        The columns that add up to ``total_column`` (default: all the other ``columns``); other
        count columns are then protected cell by cell and down their total row only.
    withheld
        Cells already withheld elsewhere (True), e.g. an organisation's cells as its own report
        shows them: withheld here too, and counted as such by secondary suppression.
    known
        ``{(row, column): [(low, high), ...]}``: cells that other figures of the same report
        break down, as the ranges those figures print (``high`` None: no upper limit); e.g. a
        quarter's reviewed deaths as the three months a chart plots. The hardening attack
        (:func:`_harden`) uses them, as a reader would.
    pooled
        When ``table`` pools groups that publish the same table of their own (the national
        report's problems table, each organisation's): each group's table as its report prints
        it (text: ``*``, a rounded count, ``0``; same labels, the group's own margins). The
        hardening attack then reads every group's cells beside the pooled ones, each pooled
        cell the sum of the groups', and withholds pooled cells until no group's ``*`` is
        narrowed inside 1 to the threshold and no group's count is pinned: the national row
        total less its harm answers, set against every organisation's row, no longer tells an
        organisation its ``*`` is 1-4.
    row_sums
        Further relations in every row: ``(columns, total column)``, the columns adding up to
        the total one besides ``total_column``'s (a trust's avoidability scores 1-3 add up to
        its deaths judged more likely than not).
    at_most
        ``[(cell, other cell), ...]``: the first is at most the second, which a reader knows
        without a margin saying so (a quarter's reviewed deaths are among its deaths in scope,
        its learning disability deaths among its deaths). Only the hardening attack uses them: a
        ``*`` that one of them narrows is defended like any other finding. An audit of the
        demo's reports (2026-12-06) found XE1's learning disability deaths of Q3, ``*``, at
        1-4: deaths 10, ``*``, ``*``, ``*`` (year 20) beside reviewed 10, ``*``, 0, ``*``
        (year 20).
    elsewhere
        Cells printed as a sum of another table's printed cells (:class:`PrintedElsewhere`):
        True here when that sum prints ``*``, never chosen for a further suppression (what
        they print is the other table's), and defended as the other table's cells are:
        whatever this table would narrow among those is withheld here.

    Returns
    -------
    DataFrame of bool, same shape as ``table[columns]``; True = withheld.

    Notes
    -----
    Primary suppression withholds counts from 1 to ``rule.threshold``. Then, for every additive
    relation the margins declare (a row summing to its total column, a column summing to its total
    row), if exactly one member is withheld it could be recovered by subtraction, so the smallest
    non-zero visible member (a body cell before the total) is withheld too; this repeats until no
    relation has exactly one withheld member.
    """
    columns = list(table.columns if columns is None else columns)
    if not table.index.is_unique:
        raise ValueError("disclosure control needs unique row labels in the table")
    counts = table[columns]
    mask = pd.DataFrame(
        [[rule.is_small(v) for v in row] for row in counts.itertuples(index=False)],
        index=counts.index,
        columns=columns,
        dtype=bool,
    )
    if withheld is not None:
        mask = mask | withheld.reindex(index=mask.index, columns=mask.columns,
                                       fill_value=False).astype(bool)
    fixed = frozenset(cell for cell in (elsewhere.equal if elsewhere else {})
                      if cell[0] in mask.index and cell[1] in mask.columns)
    for cell in fixed:
        mask.at[cell] = elsewhere.shown(cell, rule) == rule.symbol  # type: ignore[union-attr]
    if rule.threshold == 0:
        return mask
    relations = _relations(table, columns, total_row, total_column, parts, row_sums)
    while True:
        _secondary(mask, counts, relations, fixed)
        if not _harden(mask, counts, relations, rule, known, pooled, at_most, elsewhere, fixed):
            return mask


def _secondary(mask: pd.DataFrame, counts: pd.DataFrame, relations,
               fixed: frozenset = frozenset()) -> None:
    """Classic secondary suppression: no relation with exactly one withheld member (``fixed``
    cells print another table's figures: never chosen)."""
    changed = True
    while changed:
        changed = False
        for cells, total in relations:
            members = [*cells, total]
            if sum(bool(mask.at[r, c]) for r, c in members) != 1:
                continue
            candidates = [
                (r, c)
                for r, c in cells
                if not mask.at[r, c] and _value(counts.at[r, c]) > 0 and (r, c) not in fixed
            ]
            if not candidates and not mask.at[total] and _value(counts.at[total]) > 0 \
                    and total not in fixed:
                candidates = [total]
            if not candidates:
                continue  # only zeros left: nothing can be recovered that is not already known
            pick = min(candidates, key=_cost(counts, relations))
            mask.at[pick[0], pick[1]] = True
            changed = True


def _cost(counts: pd.DataFrame, relations):
    """Order of preference for a further suppression: a cell that is no relation's total (a
    leaf: withholding a total such as "deaths reviewed" costs the reader most), then the
    smallest."""
    totals = {total for _, total in relations}
    return lambda rc: (rc in totals, _value(counts.at[rc[0], rc[1]]))


def _harden(mask: pd.DataFrame, counts: pd.DataFrame, relations, rule: DisclosureRule,
            known: Mapping | None = None, pooled: Sequence[pd.DataFrame] | None = None,
            at_most: Sequence = (), elsewhere: PrintedElsewhere | None = None,
            fixed: frozenset = frozenset()) -> bool:
    """Attack the table as published (:class:`sjrlib.disclosure_check.Problem`: every range a
    printed cell allows, every relation of its margins, propagated together) and, for each
    count it recovers, and each ``*`` it narrows inside 1 to the threshold
    (:meth:`~sjrlib.disclosure_check.Problem.narrowed`), withhold one more cell of a relation
    holding it: the smallest visible non-zero body cell, else the total. Rounding makes this
    necessary: four quarters printed as 15 and a year printed as 50 can only be 13 each; a
    quarter's 40 reviewed deaths (38-42) with avoidability scores 5 and 6 printed as 20 each
    (18-22 each) leave its two ``*`` scores 1-5 each, not 1-7. Returns whether anything
    changed. A finding on a cell printed elsewhere (``elsewhere``) is defended as one of the
    relations taken together is (:func:`_withhold_any`)."""
    findings, named = _attack(mask, counts, relations, rule, known, pooled, at_most, elsewhere)
    if not findings:
        return False
    # one more cell at a time (then attack again): the cheapest visible non-zero cell sharing
    # a relation with a recovered one, by :func:`_cost` (leaves before totals); a group's cell
    # is defended through the pooled cell it is part of (a named piece: the cells it is a
    # piece of, then the cells of the group's other named pieces, which it is tied to through
    # the group's own margins): that cell first, else its relations
    cost = _cost(counts, relations)
    # a finding of the relations taken together has no one relation to defend: the cell whose
    # withholding ends it is looked for directly (_withhold_any)
    # nor has one an inequality gave (at_most: which cell to withhold is not one of its own)
    # nor has one on a cell printed elsewhere (it is no cell of this table)
    for finding in (f for f in findings if TOGETHER not in f.how and AMONG not in f.how
                    and not _outside(f)):
        anchors = ([*named[finding.key], *(cell for k, cells in named.items()
                                           if k[1] == finding.key[1] for cell in cells)]
                   if finding.key in named
                   else [finding.key[2:4]] if finding.key[0] == _GROUP else [finding.key])
        for anchor in anchors:
            if anchor != finding.key and anchor not in fixed and not mask.at[anchor] \
                    and _value(counts.at[anchor]) > 0:
                mask.at[anchor] = True
                return True
        near = {m for cells, total in relations for anchor in anchors
                if anchor in (*cells, total) for m in (*cells, total)}
        visible = [m for m in near if m != finding.key and not mask.at[m]
                   and _value(counts.at[m]) > 0 and m not in fixed]
        if visible:
            pick = min(visible, key=cost)
            mask.at[pick] = True
            return True
    return _withhold_any(mask, counts, relations, rule, known, pooled, findings, cost, at_most,
                         elsewhere, fixed)


def _outside(finding) -> bool:
    """Whether a finding of :func:`_attack` is on a cell printed elsewhere."""
    return bool(finding.key) and finding.key[0] == _ELSEWHERE


def _withhold_any(mask: pd.DataFrame, counts: pd.DataFrame, relations, rule: DisclosureRule,
                  known: Mapping | None, pooled: Sequence[pd.DataFrame] | None, findings,
                  cost, at_most: Sequence = (), elsewhere: PrintedElsewhere | None = None,
                  fixed: frozenset = frozenset()) -> bool:
    """The last resort of :func:`_harden` when no cell beside a finding can be withheld (the
    leak runs through the groups' own figures to a pooled cell elsewhere, e.g. a group's
    ``*`` narrowed through its own row by the pooled total of another column): if some
    finding is the table's doing, i.e. goes once every visible non-zero cell is withheld,
    withhold the cheapest such cell whose withholding alone removes one (of the cheapest
    few; else the cheapest). A finding that stays (a group's page narrows its own ``*`` by
    itself) is not this table's to defend, and withholding all of it would not help."""
    visible = sorted((cell for cell in ((r, c) for r in counts.index for c in counts.columns)
                      if not mask.at[cell] and _value(counts.at[cell]) > 0
                      and cell not in fixed), key=cost)
    if not visible or not (pooled or any(TOGETHER in f.how or AMONG in f.how or _outside(f)
                                         for f in findings)):
        return False

    def left(withheld: list[tuple]) -> set:
        trial = mask.copy()
        for cell in withheld:
            trial.at[cell] = True
        return {f.key for f in _attack(trial, counts, relations, rule, known, pooled,
                                       at_most, elsewhere)[0]}

    staying = left(visible)
    ours = {f.key for f in findings} - staying
    if not ours:
        return False
    pick = next((cell for cell in visible[:_LAST_RESORT_TRIALS] if ours - left([cell])),
                visible[0])
    mask.at[pick] = True
    return True


TOGETHER = "the page's relations taken together"
"""Why :meth:`sjrlib.disclosure_check.Problem.combine` narrowed a count (its findings'
``how`` begins with it)."""

AMONG = "one count among another (at most it)"
"""Why the hardening attack's interval propagation narrowed a count through ``at_most``."""

EQUAL = "printed as the sum of cells printed elsewhere (the same people)"
"""Why the hardening attack narrowed a count through :class:`PrintedElsewhere`."""

_ELSEWHERE = "printed elsewhere"
"""First element of the key of an outside cell in :func:`_attack`: ``(_ELSEWHERE, name)``."""

_LAST_RESORT_TRIALS = 12
"""How many of the cheapest cells :func:`_withhold_any` tries one by one."""


def _attack(mask: pd.DataFrame, counts: pd.DataFrame, relations, rule: DisclosureRule,
            known: Mapping | None, pooled: Sequence[pd.DataFrame] | None,
            at_most: Sequence = (), elsewhere: PrintedElsewhere | None = None,
            ) -> tuple[list, dict[tuple, list[tuple]]]:
    """The attack of :func:`_harden` on the table as ``mask`` would publish it: the findings
    (counts recovered, ``*`` narrowed), and each named piece's pooled cells."""
    from sjrlib.disclosure_check import Problem

    problem = Problem()
    for r in counts.index:
        for c in counts.columns:
            v = counts.at[r, c]
            if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                continue
            if mask.at[r, c]:
                problem.declare((r, c), 1, None, controlled=True, small=rule.threshold)
            else:
                lo, hi = count_range(rule.round(int(v)) if int(v) else 0, rule)
                problem.declare((r, c), lo, hi, controlled=lo != hi)
    for cells, total in relations:
        members = [*cells, total]
        if all(m in problem.vars for m in members):
            problem.add_sum(list(cells), total, "margins")
    for cell, ranges in (known or {}).items():
        if cell in problem.vars:
            pieces = [problem.fresh() for _ in ranges]
            for piece, (lo, hi) in zip(pieces, ranges, strict=True):
                problem.vars[piece].lo, problem.vars[piece].hi = lo, hi
            problem.add_sum(pieces, cell, "printed elsewhere")
    for small, big in at_most:
        if small in problem.vars and big in problem.vars:
            problem.add_sum([small, problem.fresh()], big, AMONG)
    if elsewhere is not None:
        outside = {name: _declare_printed(problem, (_ELSEWHERE, name), text, rule)
                   for name, text in elsewhere.cells.items()}
        for names, total in elsewhere.sums:
            problem.add_sum([outside[n] for n in names], outside[total], EQUAL)
        for cell, names in elsewhere.equal.items():
            if cell in problem.vars:  # what it prints is the outside cells' sum, not its own
                problem.declare(cell, 0, None, controlled=False)
                problem.add_sum([outside[n] for n in names], cell, EQUAL)
                # and in place of them in the other table's margins (scores 3-5 and the poor
                # care add up to the reviews), which one relation at a time needs to see
                # what the care row's five rounded counts and its total give with it
                for parts, total in elsewhere.sums:
                    if len(names) > 1 and set(names) < set(parts):
                        problem.add_sum([cell, *(outside[n] for n in parts if n not in names)],
                                        outside[total], EQUAL)
        for cell, names in elsewhere.within.items():
            if cell in problem.vars:
                whole = outside[names[0]]
                if len(names) > 1:
                    whole = problem.fresh()
                    problem.add_sum([outside[n] for n in names], whole, AMONG)
                problem.add_sum([cell, problem.fresh()], whole, AMONG)
    named = _declare_groups(problem, pooled or (), rule, relations)
    findings = problem.solve()
    # the table's relations taken together, as the checker takes a page's (a trust's year
    # of avoidability scores 5 and 6, each *, bounded in sum by reviewed less not scored
    # less more likely than not, left each quarter's * at 1-6); not for a pooled table,
    # whose every group's cells would make one programme too large to solve for each *
    for _ in range(3 if not pooled else 0):
        if not problem.combine(owner=lambda key: 0):
            break
        findings = problem.solve()
    return findings + problem.narrowed(), named


_GROUP = "group"
"""First element of the key of a group's cell in :func:`_harden`'s attack:
``(_GROUP, group number, row, column)``."""


def _declare_printed(problem, key: tuple, value: object, rule: DisclosureRule) -> tuple:
    """A group's printed cell, read as the checker reads a page (``Problem.count``: ``*`` is 1
    and up, reported when narrowed inside 1-threshold; a rounded count its rounding range);
    None: not printed, anything; text that is no count: 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return problem.unknown(key)
    return problem.count(key, str(value), threshold=rule.threshold, rounding=rule.rounding,
                         where=str(key)) or problem.declare(key, 0, 0, controlled=False)


def _declare_piece(problem, group: int, where: tuple, piece: object,
                   rule: DisclosureRule) -> tuple:
    """One piece of a group's cell (:func:`_declare_groups`): a printed value, its own unknown;
    or ``(name, printed value)``, one unknown per name in the group, however many of its cells
    it is a piece of."""
    if isinstance(piece, tuple):
        name, value = piece
        key = (_GROUP, group, _NAMED, name)
        return key if key in problem.vars else _declare_printed(problem, key, value, rule)
    return _declare_printed(problem, (_GROUP, group, *where), piece, rule)


_NAMED = "named piece"


def _declare_groups(problem, pooled: Sequence[pd.DataFrame], rule: DisclosureRule,
                    relations) -> dict[tuple, list[tuple]]:
    """Each group's printed table into ``problem``: its cells, its own margins, and each pooled
    cell as the sum of the groups'. A group without a row or column prints nothing there:
    taken as 0, as its report reads; a cell None is not printed (anything). A group's table
    may carry ``attrs["parts"]``: ``{cell: [printed values]}``, figures of the same report
    that break the cell down (an organisation's four quarters of its year); a piece
    ``(name, printed value)`` is the same figure wherever the name comes again (a trust's
    overall care scores 1 to 5 add up to its reviews, and 1 and 2 to its poor care).
    Returns each named piece's key with the pooled cells it is a piece of."""
    named: dict[tuple, list[tuple]] = {}
    if not pooled:
        return named
    cells = [k for k in problem.vars if isinstance(k, tuple) and len(k) == 2
             and k[0] not in ("aux", _ELSEWHERE)]
    parts: dict[tuple, list[tuple]] = {cell: [] for cell in cells}
    for g, table in enumerate(pooled):
        for cell in cells:
            r, c = cell
            value = table.at[r, c] if r in table.index and c in table.columns else "0"
            key = _declare_printed(problem, (_GROUP, g, r, c), value, rule)
            parts[cell].append(key)
            pieces = table.attrs.get("parts", {}).get(cell)
            if pieces:
                keys = [_declare_piece(problem, g, (r, c, i), piece, rule)
                        for i, piece in enumerate(pieces)]
                problem.add_sum(keys, key, "a group's own parts")
                for k in keys:
                    if k[2] == _NAMED:
                        named.setdefault(k, []).append(cell)
        for members, total in relations:
            keys = [(_GROUP, g, *m) for m in members]
            if all(k in problem.vars for k in (*keys, (_GROUP, g, *total))):
                problem.add_sum(keys, (_GROUP, g, *total), "a group's own margins")
    for cell, keys in parts.items():
        problem.add_sum(keys, cell, "the pooled cell is the sum of the groups'")
    return named


def _value(v: object) -> int:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return 0
    return int(v)


def protect_counts(
    table: pd.DataFrame,
    rule: DisclosureRule,
    *,
    columns: Sequence[Hashable] | None = None,
    total_row: Hashable | None = None,
    total_column: Hashable | None = None,
    parts: Sequence[Hashable] | None = None,
    withheld: pd.DataFrame | None = None,
    known: Mapping[tuple[Hashable, Hashable], Sequence[tuple[int, int | None]]] | None = None,
    pooled: Sequence[pd.DataFrame] | None = None,
    row_sums: Sequence[tuple[Sequence[Hashable], Hashable]] = (),
    at_most: Sequence[tuple[tuple[Hashable, Hashable], tuple[Hashable, Hashable]]] = (),
    elsewhere: PrintedElsewhere | None = None,
) -> pd.DataFrame:
    """Apply ``rule`` to the count columns of ``table`` (see :func:`suppression_mask`).

    Returns a copy in which the protected columns are ``object`` columns holding rounded ``int``
    counts, the suppression symbol, or ``None`` for a missing count; other columns are unchanged.
    A cell of ``elsewhere.equal`` holds the sum of its outside cells as printed
    (:meth:`PrintedElsewhere.shown`) under an active rule.
    """
    columns = list(table.columns if columns is None else columns)
    mask = suppression_mask(
        table, rule, columns=columns, total_row=total_row, total_column=total_column, parts=parts,
        withheld=withheld, known=known, pooled=pooled, row_sums=row_sums, at_most=at_most,
        elsewhere=elsewhere,
    )
    out = table.copy()
    equal = elsewhere.equal if elsewhere is not None and rule.active else {}
    for c in columns:
        values = []
        for r, v in zip(table.index, table[c], strict=True):
            if (r, c) in equal:
                values.append(elsewhere.shown((r, c), rule))  # type: ignore[union-attr]
            elif mask.at[r, c]:
                values.append(rule.symbol)
            elif v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                values.append(None)
            else:
                values.append(rule.round(int(v)))
        out[c] = pd.Series(values, index=table.index, dtype=object)
    return out


def protect_rate(
    value: float | None, base: object, rule: DisclosureRule, *, numerator_withheld: bool = False
) -> float | None:
    """A percentage or mean, or ``None`` when it must be withheld.

    Withheld when its base is 1 to ``rule.threshold`` cases, or when its numerator is withheld in
    the same table (a visible base and rate would give the numerator back).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if numerator_withheld or not rule.base_allowed(base):
        return None
    return float(value)


def protect_rates(
    values: Iterable[float] | pd.Series,
    bases: Iterable[object] | pd.Series,
    rule: DisclosureRule,
    *,
    numerator_withheld: Iterable[bool] | pd.Series | None = None,
) -> pd.Series:
    """Vectorised :func:`protect_rate`; returns a float Series with NaN where withheld."""
    values = pd.Series(values) if not isinstance(values, pd.Series) else values
    bases_list = list(bases)
    if numerator_withheld is None:
        withheld = [False] * len(values)
    else:
        withheld = [bool(x) for x in numerator_withheld]
    out = [
        protect_rate(v, b, rule, numerator_withheld=w)
        for v, b, w in zip(values.tolist(), bases_list, withheld, strict=True)
    ]
    return pd.Series(
        [np.nan if x is None else x for x in out], index=values.index, dtype="float64"
    )


# ------------------------------------------------------------ derived figures ----
FROM_SHOWN = "Percentages and intervals are computed from the rounded counts shown."
"""The sentence a table's note carries when its derived figures come from its printed counts
(``sjrlib.disclosure_check`` reads it)."""


def count_range(shown: object, rule: DisclosureRule) -> tuple[int, int | None]:
    """The true counts a published cell allows under ``rule``: ``*`` is 1 or more (a secondary
    suppression may hide any non-zero count; ``None`` = no upper limit), a rounded count the
    counts that round to it and are above the threshold, 0 is 0."""
    if shown == rule.symbol:
        return 1, None
    r = int(shown)  # type: ignore[arg-type]
    if r == 0 or rule.rounding == 1:
        return r, r
    lo = math.ceil(r - rule.rounding / 2)
    hi = math.ceil(r + rule.rounding / 2) - 1
    return max(lo, rule.threshold + 1, 1), hi


def _primary_range(count: int, rule: DisclosureRule) -> tuple[int, int]:
    """What a count's own cell tells, before secondary suppression: 0 exactly, 1 to the
    threshold for a suppressed count, or the counts that round to its rounded value."""
    if count == 0 or not rule.active:
        return count, count
    if rule.is_small(count):
        return 1, rule.threshold
    lo, hi = count_range(rule.round(count), rule)
    return lo, int(hi if hi is not None else count)


def primary_range(count: int, rule: DisclosureRule) -> tuple[int, int]:
    """What one count's own cell tells a reader before secondary suppression (which only
    widens it): 0 exactly, 1 to the threshold when suppressed, else the counts that round to
    its rounded value."""
    return _primary_range(int(count), rule)


def differencing_risk(per_group: pd.DataFrame, total_rule: DisclosureRule,
                      group_rule: DisclosureRule, *,
                      bounds: Mapping[Hashable, tuple[Sequence[int], Sequence[int]]]
                      | None = None) -> pd.Series:
    """Which column totals of ``per_group`` would narrow a group's published cell.

    ``per_group`` holds exact counts, one row per group (an organisation), one column per cell
    of a pooled table (e.g. "1 Definitely avoidable"). Each group publishes its cells under
    ``group_rule`` in a report of its own; the pooled table publishes the column sums under
    ``total_rule``. Set against each other, the sum of every other group's published range
    bounds a group's cell: with fifteen organisations showing ``*`` and the rest ``0``, a pooled
    15 (13-17 once rounded) says each ``*`` is 1-3, not 1-7. A column is at risk (True) when, for
    some group whose cell is not an exact 0, the bounds the pooled total gives are tighter than
    the cell's own. Each group's cell is taken as its own report shows it before secondary
    suppression (which only widens what other cells tell), so a column found safe here is safe
    against the reports as published.

    ``bounds`` (column -> each group's lowest and highest value, in row order): what else a
    reader knows of a group's cell, e.g. a trust's deaths judged more likely than not are at
    least as many as the avoidability scores 1-3 it prints (each ``*`` at least 1). Each
    group's range is its own cell's, narrowed by these.

    Examples
    --------
    >>> rule = DisclosureRule()
    >>> counts = pd.DataFrame({"rare": [1] * 15 + [0] * 5, "common": [30] * 20})
    >>> differencing_risk(counts, rule, rule).to_dict()
    {'rare': True, 'common': False}
    """
    risky = {}
    for column in per_group.columns:
        counts = [int(v) for v in per_group[column].fillna(0)]
        total = sum(counts)
        if total == 0 or total_rule.is_small(total):
            risky[column] = False  # an exact 0 everywhere; a suppressed total is withheld anyway
            continue
        lo_total, hi_total = _primary_range(total, total_rule)
        ranges = [_primary_range(c, group_rule) for c in counts]
        if bounds is not None and column in bounds:
            lows, highs = bounds[column]
            ranges = [(max(lo, int(a)), min(hi, int(b)))
                      for (lo, hi), a, b in zip(ranges, lows, highs, strict=True)]
        low_sum = sum(lo for lo, _ in ranges)
        high_sum = sum(hi for _, hi in ranges)
        risky[column] = any(
            max(lo, lo_total - (high_sum - hi)) > lo or min(hi, hi_total - (low_sum - lo)) < hi
            for (lo, hi) in ranges if hi > lo)
    return pd.Series(risky, dtype=bool)


def differencing_withheld(per_group: Mapping[Hashable, pd.DataFrame],
                          total_rule: DisclosureRule, group_rule: DisclosureRule,
                          like: pd.DataFrame) -> pd.DataFrame:
    """Which cells of a pooled table to withhold for differencing, cell by cell.

    ``per_group`` holds each group's table of exact counts as its own report publishes it
    (e.g. an organisation's referrals by type and status, margins included); ``like`` is the
    pooled table, whose cells are their sums. A cell is True where :func:`differencing_risk`
    finds its pooled count would narrow a group's own cell: the result goes to
    :func:`protect_counts` as ``withheld``, which adds the secondary suppressions. A group's
    table lacking a row or column counts 0 there (its report prints 0, or no such row).

    Examples
    --------
    >>> rule = DisclosureRule()
    >>> one = pd.DataFrame({"yes": [1], "no": [30]}, index=["a"])
    >>> per_group = {g: one for g in range(15)}
    >>> differencing_withheld(per_group, rule, rule, one * 15).to_dict("list")
    {'yes': [True], 'no': [False]}
    """
    cells = [(r, c) for r in like.index for c in like.columns]
    counts = pd.DataFrame(
        [[_value(t.at[r, c]) if r in t.index and c in t.columns else 0 for r, c in cells]
         for t in per_group.values()],
        index=range(len(per_group)), columns=range(len(cells)))
    risk = differencing_risk(counts, total_rule, group_rule) if len(per_group) else \
        pd.Series(False, index=counts.columns)
    out = pd.DataFrame(False, index=like.index, columns=like.columns)
    for i, (r, c) in enumerate(cells):
        out.at[r, c] = bool(risk[i])
    return out


def wilson(count: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of ``count`` of ``n`` (closed form; as statsmodels' ``wilson``)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - alpha / 2)
    p = count / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def interval_text(lower: float, upper: float, decimals: int = 1) -> str:
    """How a report prints an interval of proportions."""
    return f"{100 * lower:.{decimals}f}–{100 * upper:.{decimals}f}%"


def _candidates(k_range, n_range, keep) -> int:
    """How many (count, base) pairs in the ranges give the same printed figure (up to 2)."""
    k_lo, k_hi = k_range
    n_lo, n_hi = n_range
    if k_hi is None or n_hi is None:
        return 2
    found = 0
    for b in range(max(n_lo, 1), n_hi + 1):
        for a in range(k_lo, min(k_hi, b) + 1):
            if keep(a, b):
                found += 1
                if found >= 2:
                    return found
    return found


def published_rate(
    count: object, base: object, rule: DisclosureRule, *, exact: float | None = None,
    exact_interval: tuple[float, float] | None = None, alpha: float | None = None,
) -> tuple[float | str | None, str | None]:
    """A percentage (and its Wilson interval) as a controlled table may print it.

    Parameters
    ----------
    count, base
        The *published* numerator and base (rounded counts or the symbol).
    rule
        The table's disclosure rule.
    exact, exact_interval
        The percentage and interval from the exact counts, printed when the rule changes
        nothing (an organisation's own report, unrounded tables).
    alpha
        1 - confidence level of the interval; None: no interval.

    Returns
    -------
    (percent, interval)
        ``percent``: a float (printed to 1 decimal), a string already written (``"67%"``: only
        to whole numbers), the symbol (withheld with its count), or None (nothing to show);
        ``interval``: its text, or None.

    Notes
    -----
    Under an active rule the figures come from the published counts, so they tell a reader
    nothing the counts do not. They are also printed no more precisely than leaves at least
    two (count, base) pairs within the rounding consistent with them: a reader who took the
    percentage for one of exact counts could otherwise pin a pair (usually, but not always,
    the printed one). A percentage that pins a pair even to whole numbers is not printed; an
    interval is printed to one decimal, else to whole numbers, where the pair stays ambiguous
    with it, else not at all.
    """
    if not rule.active:
        if exact is None or (isinstance(exact, float) and math.isnan(exact)):
            return None, None
        ci = interval_text(*exact_interval) if exact_interval is not None and not any(
            math.isnan(x) for x in exact_interval) else None
        return float(exact), ci
    if count is None or base is None:
        return None, None
    if base == rule.symbol:
        return rule.symbol, None
    if int(base) == 0:  # type: ignore[arg-type]
        return None, None
    if count == rule.symbol:
        return rule.symbol, None
    k, n = int(count), int(base)  # type: ignore[arg-type]
    p = 100 * k / n
    k_range, n_range = count_range(k, rule), count_range(n, rule)
    ci_text = interval_text(*wilson(k, n, alpha)) if alpha is not None else None
    exact_counts = k_range[0] == k_range[1] and n_range[0] == n_range[1]
    if exact_counts:
        return p, ci_text
    shown: float | str | None = None
    for decimals in (1, 0):
        text = f"{p:.{decimals}f}"
        if _candidates(k_range, n_range,
                       lambda a, b, t=text, d=decimals: f"{100 * a / b:.{d}f}" == t) >= 2:
            shown = p if decimals == 1 else f"{text}%"
            break
    if shown is None or ci_text is None:
        return shown, None
    places = 1 if isinstance(shown, float) else 0
    text = f"{p:.{places}f}"
    lower, upper = wilson(k, n, alpha)
    for decimals in (1, 0):
        ci_text = interval_text(lower, upper, decimals)
        both = _candidates(k_range, n_range, lambda a, b, c=ci_text, d=decimals:
                           f"{100 * a / b:.{places}f}" == text
                           and interval_text(*wilson(a, b, alpha), d) == c)
        if both >= 2:
            return shown, ci_text
    return shown, None


# ------------------------------------------------- a percentage in a table and in a chart ----
PERCENT_PINNED = ("A percentage is printed to whole numbers, or not at all, where one decimal "
                  "would pin the counts within their rounding.")
"""What a table's note says of its percentages under rounding (:func:`published_rate`: where
even whole numbers would pin the counts, the table prints ``–``); a chart of the same counts
says it of the points it does not draw (:func:`percent_not_shown`)."""


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def published_share(count: object, base: object, rule: DisclosureRule) -> float | str | None:
    """The percentage of two *published* counts (rounded, ``0`` or the symbol) as a table
    prints it: a float (printed to one decimal), a text already written (``"67%"``: whole
    numbers only), the symbol, or None (the table prints ``–``).

    Under an active rule this is :func:`published_rate` (from the printed counts, and not at
    all where even whole numbers would pin them: 10 of 15, each rounded to 5, is printed
    ``–``); under a rule that changes nothing, the exact share. The one test a table and a
    chart of the same counts share: a chart draws the percentage only where this gives one
    (:func:`charted_share`)."""
    if _missing(count) or _missing(base):
        return None
    if rule.active:
        return published_rate(count, base, rule)[0]
    return 100 * int(count) / int(base) if int(base) else None  # type: ignore[call-overload]


def charted_share(count: object, base: object, rule: DisclosureRule) -> float | None:
    """The percentage a chart may draw of two published counts: ``100 * count / base`` where a
    table of the same counts prints a percentage (:func:`published_share`: a number, or whole
    numbers), None where the table prints ``–`` or the symbol (then the chart draws no point,
    bar, label or interval for it, and says so: :func:`percent_not_shown`).

    Examples
    --------
    >>> rule = DisclosureRule()  # 1-7 -> *, others rounded to the nearest 5
    >>> round(charted_share(10, 60, rule), 2), charted_share(10, 15, rule)
    (16.67, None)
    >>> charted_share(10, 15, DisclosureRule.off()) == 100 * 10 / 15
    True
    """
    shown = published_share(count, base, rule)
    if shown is None or shown == rule.symbol:
        return None
    return 100 * float(count) / float(base)  # type: ignore[arg-type]


def percent_not_shown(n: int, what: str) -> str:
    """A chart's note on the ``n`` ``what`` ("month(s)", "problem type(s)") it draws no
    percentage for because the table beside it prints it as ``–`` (:func:`charted_share`), in
    the table's words (:data:`PERCENT_PINNED`)."""
    why = PERCENT_PINNED[0].lower() + PERCENT_PINNED[1:].rstrip(".")
    return (f"Not shown: {n} {what} whose percentage the table prints as – (disclosure "
            f"control: {why}).")
