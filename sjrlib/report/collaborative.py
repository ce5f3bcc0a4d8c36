"""Collaborative reports: organisations that agreed to share, e.g. a regional collaborative.

Groups are data: a YAML file (``parameters/collaboratives.yaml`` by default) listing each group's
``id``, ``name``, ``members`` (organisation codes) and ``agreed_from`` (the first month,
``"YYYY-MM"``, whose figures the members agreed to share)::

    collaboratives:
      - id: north-west
        name: North West mortality collaborative
        members: [RBT, RM3, RVY]
        agreed_from: "2023-04"

A collaborative report (audience ``collaborative``: ``shared/spec/privacy-and-disclosure.md``)
gives the members' pooled Learning from Deaths figures and each member's own, under disclosure
control, listed by organisation code (never by their figures: no ranking). Each member's row is
its year total exactly as its own public trust report prints it; the pooled row is protected
against them (:func:`sjrlib.disclosure.protect_counts` with ``pooled``: every member's printed
year and quarters read at once, so the pooled figure less the others cannot give back or narrow
a member's withheld count, nor its quarters); percentages come from the printed counts. A
period that starts before the agreement is not reported for the group: its figures were not
agreed to be shared.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sjrlib.disclosure import DisclosureRule, differencing_risk, protect_counts
from sjrlib.report import tables
from sjrlib.report.params import ParameterError, Period

__all__ = ["Collaborative", "collaborative_tables", "load_collaboratives",
           "write_collaborative_report"]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_COUNTS = ("deaths_in_scope", "reviewed", "more_likely_than_not")
ALL_MEMBERS = "All members"


@dataclass(frozen=True)
class Collaborative:
    """A group of organisations that agreed to share their figures with each other."""

    ident: str
    name: str
    members: tuple[str, ...]
    agreed_from: str

    def covers(self, period: Period) -> bool:
        """Whether the agreement covers the whole period."""
        return self.agreed_from <= period.start_month


def load_collaboratives(path: str | Path, known: Iterable[str] | None = None
                        ) -> list[Collaborative]:
    """Read and check the groups file.

    Raises
    ------
    ParameterError
        The file is missing or malformed, or an entry lacks a field, has a bad id or month,
        repeats an id, or names an organisation the store does not hold (naming the file, the
        entry and the field).
    """
    from sjrlib.report.params import check_organisation

    path = Path(path)
    if not path.exists():
        raise ParameterError(f"{path}: collaboratives file not found")
    try:
        from sjrlib.yaml_files import YAMLFileError, load_yaml
    except ImportError:  # pragma: no cover - until the shared YAML reader is in
        import yaml

        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ParameterError(f"{path}: not valid YAML: {exc}") from None
    else:
        try:
            raw = load_yaml(path, what="collaboratives file") or {}
        except YAMLFileError as exc:
            raise ParameterError(str(exc)) from None
    entries = raw.get("collaboratives") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ParameterError(f"{path}: expected 'collaboratives:' with a list of groups")
    out: list[Collaborative] = []
    known = list(known) if known is not None else None
    for i, entry in enumerate(entries, start=1):
        where = f"{path}, group {i}"
        if not isinstance(entry, dict):
            raise ParameterError(f"{where}: expected id, name, members and agreed_from")
        unknown = sorted(set(entry) - {"id", "name", "members", "agreed_from"})
        if unknown:
            raise ParameterError(f"{where}: unknown field(s) {', '.join(unknown)}")
        for name in ("id", "name", "members", "agreed_from"):
            if entry.get(name) in (None, "", []):
                raise ParameterError(f"{where}: '{name}' is missing")
        ident, month = str(entry["id"]), str(entry["agreed_from"])
        if not _ID.match(ident):
            raise ParameterError(f"{where}: 'id' {ident!r} must be lower-case letters, digits "
                                 "and hyphens (it names the report's file)")
        if not _MONTH.match(month):
            raise ParameterError(f"{where}: 'agreed_from' {month!r} must be a month 'YYYY-MM'")
        members = entry["members"]
        if not isinstance(members, list) or len(members) < 2:
            raise ParameterError(f"{where}: 'members' must list two or more organisation codes")
        members = [str(m) for m in members]
        if len(set(members)) != len(members):
            raise ParameterError(f"{where}: 'members' names an organisation twice")
        if known is not None:
            for code in members:
                check_organisation(code, known, where=f"{where}, members")
        if any(g.ident == ident for g in out):
            raise ParameterError(f"{where}: id {ident!r} is used by another group")
        out.append(Collaborative(ident, str(entry["name"]), tuple(sorted(members)), month))
    return out


def _member_total(reviews: pd.DataFrame, deaths: pd.DataFrame, period: Period,
                  rule: DisclosureRule, total_label: str) -> tuple[pd.Series, pd.DataFrame]:
    """One organisation's (or the pool's) raw year-total row, and its quarters and year as
    its trust report prints them (:func:`sjrlib.report.tables.protect_lfd`)."""
    from sjrlib.report.trust import _zero_quarters
    from sjrlib.stats._reviews import financial_quarter
    from sjrlib.stats.lfd import learning_from_deaths

    months = reviews["death_month"]
    reviews = reviews[((months >= period.start_month) & (months <= period.end_month))
                      .fillna(False)].reset_index(drop=True)
    deaths = deaths[(deaths["month"] >= period.start_month) & (deaths["month"] <= period.end_month)]
    labels = sorted({financial_quarter(m) for m in period.months()})
    figures = learning_from_deaths(reviews, deaths, period="quarter", by_organisation=False,
                                   as_of=period.end_month)
    figures = _zero_quarters(figures[figures["period"].isin(labels)], labels)
    raw, protected = tables.protect_lfd(figures, rule, total_label=total_label)
    return raw.loc[total_label], protected


def _pooled_row(pooled_raw: pd.Series, raw_rows: dict[str, pd.Series],
                printed: dict[str, pd.DataFrame], rule: DisclosureRule,
                total_label: str) -> pd.DataFrame:
    """The pooled row's counts as the page prints them: withheld where, set against each
    member's year total as its own report prints it (:func:`sjrlib.disclosure.
    differencing_risk`), or against every member's printed year and quarters at once
    (``pooled``), it would give back or narrow a member's withheld count. Until 2026-12-05 the
    pooled row was protected with the members' rows by secondary suppression alone: of two
    members printing ``*`` for each quarter's (and the year's) deaths judged more likely than
    not and 0, 10, ``*``, ``*`` (15), the pooled 20 (18-22) left the first's quarters 1-6; and
    the second's 15, withheld as the secondary suppression, was on its own report anyway."""
    def shown(value: object) -> object:
        return None if value is None or value is pd.NA or value == tables.NOT_KNOWN else value

    exact = pd.DataFrame([pooled_raw[list(_COUNTS)]], index=[ALL_MEMBERS]).astype(object)
    totals = pd.DataFrame({c: pd.to_numeric(pd.Series([raw_rows[m][c] for m in raw_rows]),
                                            errors="coerce").fillna(0) for c in _COUNTS})
    risk = differencing_risk(totals, rule, rule)
    withheld = pd.DataFrame([[bool(risk[c]) for c in _COUNTS]], index=[ALL_MEMBERS],
                            columns=list(_COUNTS))
    groups = []
    for table in printed.values():
        group = pd.DataFrame({c: [shown(table.at[total_label, c])] for c in _COUNTS},
                             index=[ALL_MEMBERS], dtype=object)
        group.attrs["parts"] = {(ALL_MEMBERS, c): [shown(table.at[q, c]) for q in table.index
                                                   if q != total_label] for c in _COUNTS}
        groups.append(group)
    return protect_counts(exact, rule, withheld=withheld, pooled=groups)


def collaborative_tables(group: Collaborative, reviews: pd.DataFrame, deaths: pd.DataFrame,
                         period: Period, rule: DisclosureRule) -> list[tables.ReportTable]:
    """The group's tables for one period (none when the agreement does not cover it)."""
    if not group.covers(period):
        return []
    total_label = f"{period.label.replace('_', ' ')}\u00a0total"
    raw_rows, printed = {}, {}
    for code in group.members:
        r = reviews[reviews["organisation_code"].astype(str) == code]
        d = deaths[deaths["organisation_code"].astype(str) == code]
        raw_rows[code], printed[code] = _member_total(r, d, period, rule, total_label)
    in_group = reviews["organisation_code"].astype(str).isin(group.members)
    pooled_raw, _ = _member_total(
        reviews[in_group.fillna(False)], deaths[deaths["organisation_code"].astype(str)
                                                .isin(group.members)],
        period, rule, total_label)
    pooled = _pooled_row(pooled_raw, raw_rows, printed, rule, total_label)
    protected = pd.DataFrame(
        {**{code: printed[code].loc[total_label, list(_COUNTS)] for code in group.members},
         ALL_MEMBERS: pooled.loc[ALL_MEMBERS]}).T.astype(object)
    if any(printed[c].at[total_label, "deaths_in_scope"] == tables.NOT_KNOWN
           for c in group.members):
        protected.at[ALL_MEMBERS, "deaths_in_scope"] = tables.NOT_KNOWN
    percent = []
    for label in protected.index:
        d, r = protected.at[label, "deaths_in_scope"], protected.at[label, "reviewed"]
        if d == tables.NOT_KNOWN:
            percent.append(tables.NOT_KNOWN)
        elif isinstance(d, int) and isinstance(r, int) and r > d:
            percent.append(tables.EXCEEDS)
        else:
            percent.append(tables.published_share(r, d, rule) if d not in (None, 0) else None)
    frame = pd.DataFrame({
        "Deaths in scope": protected["deaths_in_scope"],
        "Deaths reviewed (SJR)": protected["reviewed"],
        "% of deaths reviewed": percent,
        "More likely than not due to problems in care": protected["more_likely_than_not"],
    }, index=protected.index)
    return [tables.ReportTable(
        frame, caption=f"Learning from Deaths: {group.name}, each member and all together",
        note=tables._note(rule, "Members are listed by organisation code, not by their "
                          "figures: the collaborative is for learning together, not ranking. "
                          "Each member's row is as its own report shows it; the pooled row is "
                          "controlled with them."),
        formats={"% of deaths reviewed": "percent"}, total_rows=[ALL_MEMBERS],
        index_name="Organisation")]


def write_collaborative_report(group: Collaborative, reviews: pd.DataFrame,
                               deaths: pd.DataFrame, names: dict[str, str], period: Period,
                               rule: DisclosureRule, path: str | Path, stamp=None,
                               synthetic: bool = False) -> Path:
    """Write the group's page (HTML, through the report renderer: escaped, inert, 0600);
    ``synthetic``: the store is marked synthetic, and the page says so at the top."""
    import nbformat

    from sjrlib.report.render import write_html

    nb = nbformat.v4.new_notebook()

    def show(obj) -> None:
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("display_data",
                                               data={"text/html": obj._repr_html_()})]
        nb.cells.append(cell)

    def heading(text: str) -> None:
        nb.cells.append(nbformat.v4.new_markdown_cell(f"## {text}"))

    members = ", ".join(f"{names.get(c, c)} ({c})" for c in group.members)
    intro = tables.ReportTable(
        pd.DataFrame({"": [members, group.agreed_from, period.label]},
                     index=["Members", "Figures shared from", "Period"], dtype=object),
        caption="About this collaborative report",
        note="For the members of the collaborative. " + rule.describe())
    heading("The collaborative")
    show(intro)
    found = collaborative_tables(group, reviews, deaths, period, rule)
    heading("Learning from Deaths")
    if found:
        for table in found:
            show(table)
    else:
        show(tables.ReportTable(
            pd.DataFrame({"": [f"The members agreed to share figures from "
                               f"{group.agreed_from}; this period starts earlier "
                               f"({period.start_month}), so none are shown."]},
                         index=["Not shared"], dtype=object),
            caption="Nothing to show for this period"))
    if stamp is not None:
        heading("About this report")
        show(stamp)
    return write_html(nb, path, title=f"{group.name}: structured judgement reviews, "
                      f"{period.label}", kicker="Collaborative report", synthetic=synthetic)
