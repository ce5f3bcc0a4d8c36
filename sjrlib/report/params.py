"""Report parameters: one schema, strict, checked before any notebook runs.

Parameter files live in ``parameters/`` (``national.yaml``, ``trust_defaults.yaml``). Each names
its report type in ``report:`` and is validated against :data:`ReportParameters` (a union of
:class:`NationalParameters` and :class:`TrustParameters` keyed by ``report``). An unknown or
misspelt parameter, a missing required one, or a value of the wrong type is a
:class:`ParameterError` naming the file and the field (papermill itself only warns).

The period
----------
A report covers whole months. Give either ``period``, a financial year written ``"2024-25"``
(April 2024 to March 2025, as NHS boards report), or both ``start_month`` and ``end_month``
(``"YYYY-MM"``, inclusive). With neither, the batch runner picks the latest financial year for
which the store holds deaths data (:func:`latest_financial_year`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from sjrlib.yaml_files import YAMLFileError, load_yaml

__all__ = [
    "AUDIENCES",
    "INTERNAL_NOTICE",
    "MIN_PUBLISHED_THRESHOLD",
    "NationalParameters",
    "ParameterError",
    "Period",
    "ReportParameters",
    "TrustParameters",
    "check_organisation",
    "latest_financial_year",
    "load_parameters",
    "parse_period",
]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_FINANCIAL_YEAR = re.compile(r"^(\d{4})-(\d{2})$")
_ORGANISATION = r"^([A-Z0-9]{3}|S\d{8})$"


class ParameterError(ValueError):
    """Report parameters are wrong; the message says where and what would be right."""


AUDIENCES: tuple[str, ...] = ("organisation", "collaborative", "public")
"""Who a report is for (``shared/spec/privacy-and-disclosure.md``, "Audiences"):
``organisation`` - the organisation's own mortality committee and board, exact counts, marked
:data:`INTERNAL_NOTICE`; ``collaborative`` - organisations that agreed to share,
disclosure-controlled; ``public`` - anything that leaves the programme (the national report
always), disclosure-controlled."""

INTERNAL_NOTICE = "For internal governance: apply disclosure control before publishing"
"""How an ``organisation``-audience report (exact counts) is marked, on the page and in its
workbook."""

MIN_PUBLISHED_THRESHOLD = 5
"""The lowest disclosure threshold a ``collaborative`` or ``public`` report may use (older HQIP
practice: suppress under 5); the rounding base is at least 1 for every audience."""

DEFAULT_THRESHOLD = 7
DEFAULT_ROUNDING = 5
"""The NHS Digital (HES) rule a controlled report uses unless its parameters say otherwise."""


class Period(NamedTuple):
    """The months a report covers (inclusive) and how the report names them."""

    start_month: str
    end_month: str
    label: str

    def months(self) -> list[str]:
        """Every ``"YYYY-MM"`` from start to end."""
        return months_between(self.start_month, self.end_month)


def months_between(start: str, end: str) -> list[str]:
    """Every ``"YYYY-MM"`` from ``start`` to ``end`` inclusive."""
    y, m = int(start[:4]), int(start[5:])
    out = []
    while f"{y:04d}-{m:02d}" <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def shift_month(month: str, by: int) -> str:
    """``month`` moved by ``by`` months (negative: earlier)."""
    index = int(month[:4]) * 12 + int(month[5:]) - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


_PARAMETER_NAMES = {"period": "'period'", "start_month": "'start_month'",
                    "end_month": "'end_month'"}
OPTION_NAMES = {"period": "--period", "start_month": "--start-month",
                "end_month": "--end-month"}
"""How :func:`parse_period` names the period's values for a command line (``names=``)."""


def parse_period(
    period: str | None = None, start_month: str | None = None, end_month: str | None = None,
    *, names: Mapping[str, str] | None = None,
) -> Period:
    """The :class:`Period` for a financial year ``"2024-25"`` or explicit start and end months.

    ``names`` says what the messages call ``period``, ``start_month`` and ``end_month``: the
    parameter files' names by default, :data:`OPTION_NAMES` for values from a command line.

    Raises
    ------
    ParameterError
        When the text is not a financial year, months are malformed or out of order, or both
        forms (or neither) are given.
    """
    n = {**_PARAMETER_NAMES, **(names or {})}
    if period and (start_month or end_month):
        raise ParameterError(
            f"give either {n['period']} (a financial year such as '2024-25') or "
            f"{n['start_month']} and {n['end_month']}, not both"
        )
    if period:
        match = _FINANCIAL_YEAR.match(period)
        if not match or (int(match[1]) + 1) % 100 != int(match[2]):
            raise ParameterError(
                f"{n['period']} must be a financial year written like '2024-25' (April 2024 to "
                f"March 2025), not {period!r}"
            )
        first = int(match[1])
        return Period(f"{first}-04", f"{first + 1}-03", period)
    if not (start_month and end_month):
        raise ParameterError(
            f"the report period is missing: give {n['period']} (e.g. '2024-25') or both "
            f"{n['start_month']} and {n['end_month']} ('YYYY-MM')"
        )
    for name, value in (("start_month", start_month), ("end_month", end_month)):
        if not _MONTH.match(value):
            raise ParameterError(f"{n[name]} must be a month written 'YYYY-MM', not {value!r}")
    if start_month > end_month:
        raise ParameterError(f"{n['start_month']} {start_month} is after {n['end_month']} "
                             f"{end_month}")
    return Period(start_month, end_month, f"{start_month}_to_{end_month}")


AUDIENCES = ("organisation", "collaborative", "public")
"""The audiences a trust report may be for (``TrustParameters.audience``)."""


def check_audience(audience: str | None, *, option: str = "--audience") -> None:
    """Raise :class:`ParameterError`, naming ``option`` and the allowed values, unless
    ``audience`` is one of :data:`AUDIENCES` (or None: the parameter files decide)."""
    if audience is None or audience in AUDIENCES:
        return
    close = difflib.get_close_matches(str(audience).lower(), AUDIENCES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ParameterError(f"{option} must be one of {', '.join(AUDIENCES)}, not "
                         f"{audience!r}{hint}")


def latest_financial_year(months: Iterable[str]) -> str:
    """The latest financial year ending in or before the latest of ``months`` that has data.

    A financial year counts once its March is present; if no March is present the year holding
    the latest month is used.
    """
    months = sorted(set(months))
    if not months:
        raise ParameterError("the store holds no deaths data, so there is no period to report")
    last = months[-1]
    year, month = int(last[:4]), int(last[5:])
    first = year - 1 if month <= 3 else year
    if month != 3:
        complete = [m for m in months if m.endswith("-03")]
        if complete:
            first = int(complete[-1][:4]) - 1
    return f"{first}-{(first + 1) % 100:02d}"


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    period: str | None = Field(
        None, description="Financial year April-March, written '2024-25'. Or use start/end."
    )
    start_month: str | None = Field(None, description="First month 'YYYY-MM' (with end_month).")
    end_month: str | None = Field(None, description="Last month 'YYYY-MM', inclusive.")
    db: str | None = Field(
        None, description="Database URL; empty = --db, SJR_DATABASE_URL or the local default."
    )
    user: str | None = Field(
        None, min_length=1,
        description="Who the report reads data as; empty = the person running it "
        "(JUPYTERHUB_USER, SJR_USER or the identity file). Set by `sjr report`.",
    )
    audience: Literal["organisation", "collaborative", "public"] = Field(
        "public",
        description="Who the report is for: organisation (exact counts, marked for internal "
        "governance), collaborative or public (disclosure-controlled).",
    )
    trend_months: int = Field(
        36, ge=12, le=120,
        description="Months of history in trend and SPC charts, ending with the period's last.",
    )
    confidence_level: float = Field(
        0.95, gt=0.5, lt=1.0, description="Confidence level of intervals, e.g. 0.95."
    )
    disclosure_threshold: int | None = Field(
        None, ge=0, le=50,
        description="Counts from 1 to this are shown as *; empty = 7 (collaborative, public) or "
        "exact counts (organisation). At least 5 unless the audience is organisation.",
    )
    disclosure_rounding: int | None = Field(
        None, ge=1, le=100,
        description="Other counts are rounded to the nearest multiple of this; empty = 5 "
        "(collaborative, public) or 1 (organisation).",
    )
    data_file: str | None = Field(
        None, description="Internal: a data slice prepared by the batch runner. Leave empty."
    )

    @model_validator(mode="after")
    def _period_is_well_formed(self) -> _Common:
        if self.period or self.start_month or self.end_month:
            parse_period(self.period, self.start_month, self.end_month)
        return self

    @model_validator(mode="after")
    def _disclosure_has_a_floor(self) -> _Common:
        threshold = self.disclosure_threshold
        if (self.audience != "organisation" and threshold is not None
                and threshold < MIN_PUBLISHED_THRESHOLD):
            raise ValueError(
                f"'disclosure_threshold' {threshold} is below the floor of "
                f"{MIN_PUBLISHED_THRESHOLD} for a {self.audience} report: counts of 1 to "
                f"{MIN_PUBLISHED_THRESHOLD - 1} must be suppressed in anything shared. Only a "
                "report for the organisation's own governance ('audience: organisation', "
                "marked for internal use) may go lower"
            )
        return self

    @property
    def internal(self) -> bool:
        """Whether this is an ``organisation``-audience report (exact counts, marked with
        :data:`INTERNAL_NOTICE`)."""
        return self.audience == "organisation"

    def resolved_period(self) -> Period:
        """The report's :class:`Period` (an error if none was given)."""
        return parse_period(self.period, self.start_month, self.end_month)

    def disclosure_rule(self):
        """The :class:`sjrlib.disclosure.DisclosureRule` these parameters configure."""
        from sjrlib.disclosure import DisclosureRule

        exact = self.internal
        threshold = self.disclosure_threshold
        rounding = self.disclosure_rounding
        return DisclosureRule(
            threshold=(0 if exact else DEFAULT_THRESHOLD) if threshold is None else threshold,
            rounding=(1 if exact else DEFAULT_ROUNDING) if rounding is None else rounding,
        )

    def notebook_parameters(self) -> dict[str, Any]:
        """The values papermill injects into the notebook's parameters cell (all but
        ``report``, which the notebook itself fixes)."""
        return self.model_dump(exclude={"report"})


class NationalParameters(_Common):
    """Parameters of ``notebooks/national_report.ipynb``: the pooled national picture.

    Tables below national level (NHS regions) follow the disclosure rule; national and nation
    totals are shown unrounded.
    """

    report: Literal["national"] = "national"

    @model_validator(mode="after")
    def _national_is_public(self) -> NationalParameters:
        if self.audience != "public":
            raise ValueError(
                f"'audience' {self.audience!r} is not possible for the national report: it "
                "leaves the programme, so its audience is 'public'"
            )
        return self


class TrustParameters(_Common):
    """Parameters of ``notebooks/trust_report.ipynb``: one trust or health board."""

    report: Literal["trust"] = "trust"
    organisation_code: str = Field(
        ..., pattern=_ORGANISATION,
        description="ODS code (England, 3 characters) or GSS code (Scotland, 'S08...').",
    )
    lfd_workbook: str | None = Field(
        None, description="Where to write the Learning from Deaths dashboard (.xlsx); empty: "
        "not written. The batch runner sets it.",
    )
    published_history: str | None = Field(
        None, description="Where to keep what each run published (JSON), so the next run "
        "can say which figures were revised; empty: not kept. The batch runner sets it.",
    )


ReportParameters = Annotated[
    NationalParameters | TrustParameters, Field(discriminator="report")
]
"""The one schema every parameter file is validated against."""

_ADAPTER: TypeAdapter = TypeAdapter(ReportParameters)

_TYPE_WORDS = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "text",
    "bool_type": "true or false",
}


def _field_names(report: str | None) -> list[str]:
    models = {"national": NationalParameters, "trust": TrustParameters}
    chosen = [models[report]] if report in models else list(models.values())
    return sorted({name for m in chosen for name in m.model_fields})


def _explain(error: dict, report: str | None) -> str:
    loc = [str(x) for x in error["loc"] if str(x) not in ("national", "trust")]
    field = ".".join(loc) or "report"
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, _field_names(report), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown parameter {field!r}{hint}"
    if kind == "missing":
        return f"missing required parameter {field!r}"
    if kind == "union_tag_not_found":
        return "missing required parameter 'report' ('national' or 'trust')"
    if kind in ("union_tag_invalid", "model_attributes_type"):
        return "'report' must be 'national' or 'trust'"
    if kind in _TYPE_WORDS:
        return f"{field!r} must be {_TYPE_WORDS[kind]}, not {value!r}"
    if kind == "string_pattern_mismatch" and field == "organisation_code":
        return (
            f"'organisation_code' {value!r} is not an organisation code: expected an ODS code "
            "(3 characters, e.g. 'RXX') or a GSS code ('S08' and 6 digits)"
        )
    message = error["msg"]
    if kind == "value_error":
        message = str(error.get("ctx", {}).get("error", message))
        return message
    return f"{field!r}: {message} (got {value!r})"


def load_parameters(
    source: str | Path | Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    known_organisations: Iterable[str] | None = None,
) -> NationalParameters | TrustParameters:
    """Read and validate report parameters.

    Parameters
    ----------
    source
        A YAML file (e.g. ``parameters/national.yaml``) or a mapping.
    overrides
        Values that replace the source's (e.g. the organisation code and period given on the
        command line); ``None`` values are ignored.
    known_organisations
        Organisation codes in the store; when given, an unknown ``organisation_code`` is an error.

    Raises
    ------
    ParameterError
        Naming the file and every field that is wrong.
    """
    where = str(source) if isinstance(source, (str, Path)) else "parameters"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ParameterError(f"{where}: parameter file not found")
        try:  # plain data only, and limits on size, nesting and aliases
            raw = load_yaml(path, what="parameter file")
        except YAMLFileError as exc:
            raise ParameterError(str(exc)) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            kind = type(raw).__name__
            raise ParameterError(f"{where}: expected 'name: value' lines, found {kind}")
    else:
        raw = dict(source)
    values = {**raw, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    report = values.get("report")
    try:
        params = _ADAPTER.validate_python(values)
    except ValidationError as exc:
        problems = [_explain(e, report if isinstance(report, str) else None) for e in exc.errors()]
        raise ParameterError(f"{where}: " + "; ".join(dict.fromkeys(problems))) from None
    if known_organisations is not None and isinstance(params, TrustParameters):
        check_organisation(params.organisation_code, known_organisations, where=where)
    return params


def check_organisation(code: str, known: Iterable[str], *, where: str = "parameters") -> None:
    """Raise :class:`ParameterError` unless ``code`` is one of the ``known`` organisations."""
    known = sorted(set(known))
    if code in known:
        return
    # codes are upper case: "xa2" is XA2 typed in lower case (difflib compares case too)
    same = [k for k in known if k.casefold() == code.casefold()]
    close = same or difflib.get_close_matches(code.upper(), known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ParameterError(
        f"{where}: unknown organisation {code!r}: it is not in the store "
        f"({len(known)} organisations known){hint}"
    )
