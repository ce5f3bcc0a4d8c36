"""An import of the deaths feed says it stored organisation-months, not deaths.

Before: ``make demo`` printed "data/synthetic/deaths.csv: deaths: 8040 inserted, ..." for a
feed of 1,264,397 deaths (``sjr summary`` beside it: "organisation-months of deaths 8,040"):
each row of a deaths file is one organisation's month. Found reading ``make demo``'s output as
a first-time user.
"""

from __future__ import annotations

import re

from typer.testing import CliRunner

from sjrlib.cli import app


def test_demo_data_counts_the_deaths_feed_in_organisation_months(tmp_path):
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    result = CliRunner().invoke(app, ["demo-data", "--db", url, "--organisations", "2",
                                      "--years", "1", "--seed", "5"],
                                env={"SJR_USER": None, "SJR_DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "deaths.csv:" in x)
    assert re.search(r"deaths\.csv: deaths \(organisation-months\): 24 inserted, 0 updated, "
                     r"0 unchanged\.$", line), line
    reviews = next(x for x in result.output.splitlines() if "reviews.csv:" in x)
    assert re.search(r"reviews\.csv: reviews: \d+ inserted", reviews), reviews  # unchanged
