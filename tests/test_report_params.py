"""Report parameters: one strict schema; every mistake is a clear error before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sjrlib.report.params import (
    NationalParameters,
    ParameterError,
    TrustParameters,
    latest_financial_year,
    load_parameters,
    parse_period,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_parameter_files_are_valid():
    national = load_parameters(ROOT / "parameters" / "national.yaml")
    assert isinstance(national, NationalParameters)
    trust = load_parameters(
        ROOT / "parameters" / "trust_defaults.yaml", overrides={"organisation_code": "X01"}
    )
    assert isinstance(trust, TrustParameters)
    assert trust.disclosure_rule().threshold == 7


def test_trust_defaults_alone_miss_the_organisation(tmp_path):
    with pytest.raises(ParameterError) as err:
        load_parameters(ROOT / "parameters" / "trust_defaults.yaml")
    assert "trust_defaults.yaml" in str(err.value)
    assert "missing required parameter 'organisation_code'" in str(err.value)


def test_unknown_parameter_is_an_error_with_a_suggestion(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("report: national\nperiod: '2024-25'\ntrend_monhts: 24\n")
    with pytest.raises(ParameterError) as err:
        load_parameters(path)
    message = str(err.value)
    assert str(path) in message
    assert "unknown parameter 'trend_monhts'" in message
    assert "did you mean 'trend_months'" in message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"report": "national", "trend_months": "36"}, "'trend_months' must be a whole number"),
        ({"report": "national", "confidence_level": "high"}, "'confidence_level' must be a number"),
        ({"report": "national", "trend_months": 6}, "'trend_months'"),
        ({"report": "national", "period": "2024"}, "financial year written like '2024-25'"),
        ({"report": "national", "period": "2024-26"}, "financial year"),
        ({"report": "national", "start_month": "2024-13", "end_month": "2025-01"}, "YYYY-MM"),
        ({"report": "national", "start_month": "2025-01", "end_month": "2024-01"}, "is after"),
        ({"report": "national", "period": "2024-25", "start_month": "2024-01",
          "end_month": "2024-03"}, "not both"),
        ({"report": "trust", "organisation_code": "royal"}, "is not an organisation code"),
        ({"report": "trust", "organisation_code": 123}, "'organisation_code' must be text"),
        ({"report": "league_table"}, "'report' must be 'national' or 'trust'"),
        ({}, "missing required parameter 'report'"),
    ],
)
def test_wrong_values_are_clear_errors(values, expected):
    with pytest.raises(ParameterError, match="^parameters: ") as err:
        load_parameters(values)
    assert expected in str(err.value)


def test_unknown_organisation_is_checked_against_the_store_list():
    with pytest.raises(ParameterError) as err:
        load_parameters(
            {"report": "trust", "organisation_code": "X0Z"}, known_organisations=["X01", "X02"]
        )
    assert "unknown organisation 'X0Z'" in str(err.value)
    assert "X01" in str(err.value)
    ok = load_parameters(
        {"report": "trust", "organisation_code": "X02"}, known_organisations=["X01", "X02"]
    )
    assert ok.organisation_code == "X02"


def test_bad_yaml_and_missing_file_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("report: [national\n")
    with pytest.raises(ParameterError, match="bad.yaml: not a readable YAML parameter file"):
        load_parameters(bad)
    with pytest.raises(ParameterError, match="nothere.yaml: parameter file not found"):
        load_parameters(tmp_path / "nothere.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ParameterError, match="list.yaml: expected 'name: value' lines"):
        load_parameters(listy)


def test_overrides_replace_file_values_and_none_is_ignored():
    params = load_parameters(
        {"report": "trust", "organisation_code": "X01", "period": "2023-24"},
        overrides={"period": "2024-25", "db": None},
    )
    assert params.period == "2024-25"
    assert params.db is None


def test_periods():
    assert parse_period("2024-25") == ("2024-04", "2025-03", "2024-25")
    assert parse_period("1999-00").end_month == "2000-03"
    explicit = parse_period(start_month="2024-01", end_month="2024-06")
    assert explicit.months() == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    assert explicit.label == "2024-01_to_2024-06"
    with pytest.raises(ParameterError, match="period is missing"):
        parse_period()


def test_latest_financial_year_prefers_a_complete_year():
    assert latest_financial_year(["2024-01", "2024-03", "2024-09"]) == "2023-24"
    assert latest_financial_year(["2024-04", "2025-03"]) == "2024-25"
    assert latest_financial_year(["2024-05"]) == "2024-25"
    with pytest.raises(ParameterError, match="no deaths data"):
        latest_financial_year([])


@pytest.mark.parametrize(("notebook", "model"), [
    ("trust_report.ipynb", TrustParameters),
    ("national_report.ipynb", NationalParameters),
])
def test_notebook_parameters_cell_matches_the_schema(notebook, model):
    import nbformat
    import papermill

    path = ROOT / "notebooks" / notebook
    declared = set(papermill.inspect_notebook(str(path)))
    assert declared == set(model.model_fields) - {"report"}
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "notebooks are committed without outputs"


def test_a_billion_laughs_parameter_file_is_refused_in_one_line(tmp_path):
    laughs = tmp_path / "laughs.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[n]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    laughs.write_text("\n".join(lines) + "\nreport: *i\n")
    with pytest.raises(ParameterError, match="laughs.yaml"):
        load_parameters(laughs)
