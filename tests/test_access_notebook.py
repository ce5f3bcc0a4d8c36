"""The researcher quick start runs end to end and reproduces the national headline figures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from access_setup import approval, governed_fresh  # noqa: F401  (governed_fresh: fixture)

from data_access import open_session, store
from data_access.approval_keys import read_key
from data_access.extract import read_extract
from data_access.pseudonymise import pseudonymise_series
from data_access.session import Session
from sjrlib.stats import descriptive

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "researcher_quickstart.ipynb"
FIELDS = ("review_id", "case_id", "second_review_of", "organisation_code", "review_stage",
          "status", "review_date", "death_month", "score_overall", "avoidability_score",
          "avoidability_scale", "learning_disability", "review_sequence")


def test_quickstart_reproduces_the_headline_statistics(governed_fresh, tmp_path,  # noqa: F811
                                                       monkeypatch):
    import papermill

    gov = governed_fresh
    with open_session("admin", gov.app_url, tool="test") as s:
        s.add_approval(approval("DARG-NAT", ["res2"], [gov.org_a, gov.org_b, gov.org_c],
                                fields=FIELDS, date_coarsening="quarter"))
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("SJR_USER", "res2")
    out = tmp_path / "extract.parquet"
    executed = papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "run.ipynb"), kernel_name="python3", progress_bar=False,
        parameters={"approval_id": "DARG-NAT", "extract_file": str(out), "db": gov.app_url},
        cwd=str(tmp_path),
    )
    manifest = json.loads((tmp_path / "extract.parquet.manifest.json").read_text())
    assert manifest["approval_id"] == "DARG-NAT" and manifest["fields"] == list(FIELDS)

    extract = read_extract(out)
    with open_session("national", gov.app_url, tool="test") as s:
        national = s.reviews(status=["submitted", "locked"])
    # k-anonymity withholds the rows it could not make anonymous (the manifest counts them):
    # the figures must match the store's over exactly the rows released
    engine = store.get_engine(gov.owner_url)
    with engine.connect() as conn:
        secret = read_key(conn, "DARG-NAT")
    engine.dispose()
    released = pseudonymise_series(national["review_id"], secret, "review").isin(
        set(extract["review_id"]))
    assert int((~released).sum()) == manifest["k_anonymity"]["suppressed_rows"]
    national = national[released.to_numpy()].reset_index(drop=True)
    for statistic in (descriptive.poor_care, descriptive.more_likely_than_not):
        mine, theirs = statistic(extract), statistic(national)
        pd.testing.assert_frame_equal(mine, theirs)
    # the notebook showed those same figures
    shown = "".join(
        "".join(o.get("data", {}).get("text/plain", ""))
        for cell in executed["cells"] for o in cell.get("outputs", [])
    )
    poor = descriptive.poor_care(national)
    assert f"{int(poor['n'].iloc[0])}" in shown and f"{int(poor['poor'].iloc[0])}" in shown
    assert isinstance(Session, type)
    # its charts carry alt text, in the notebook and exported from it (a figure alone is a PNG
    # without any)
    from nbconvert import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(executed)
    for title in ("Care scores by phase of care (% of first-stage reviews scoring the phase)",
                  "Poor or very poor overall care (% of first-stage reviews) "):
        assert f'<img alt="{title}' in page, title
    # the approval has no reviewer_id: the agreement chart is a sentence under its title
    assert "<strong>Two reviewers' scores of overall care</strong>: Your extract has no " \
           "reviewer_id" in page
    assert "<img src=" not in page and '<img alt=""' not in page
