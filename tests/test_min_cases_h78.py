"""The "fewer than 8 cases" of the charts and of the tables is one constant (helper 78).

``sjrlib.plots`` defined ``MIN_CASES = 8`` and ``sjrlib.report.tables`` ``_MIN_INTERVAL = 8`` and
wrote "not shown on fewer than 8 reviews", each beside the project's own
``sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL`` (the spec's "no interval or estimate on
fewer than 8 cases"): a change to the rule in one place left the others' wording and rule
behind. Both now take it from there. The test changes the one constant before the modules are
imported (a fresh interpreter, so no other test sees it) and reads what the chart and the table
then say.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json
    import pandas as pd
    import sjrlib.stats.descriptive as descriptive
    descriptive.MIN_CASES_FOR_INTERVAL = 10  # the one place; everything below follows it
    from sjrlib import plots
    from sjrlib.disclosure import DisclosureRule
    from sjrlib.report import tables

    # 9 scored reviews: a chart under the old 8, none under 10
    nine = pd.DataFrame({"score": [1, 2, 3, 4, 5, 6], "label": list("abcdef"),
                         "count": [1, 2, 2, 2, 1, 1], "n_scored": [9] * 6})
    # care scores of one phase on 9 reviews, 3 of them poor: the interval's cell
    row = {"phase": "admission", "n": 9, "poor": 3, "proportion": 1 / 3,
           "ci_lower": 0.12, "ci_upper": 0.65}
    from sjrlib.synthetic import generate
    reviews = generate(n_organisations=1, years=1, seed=2).reviews
    note = tables.care_score_table(*tables.care_inputs(reviews, 0.05), DisclosureRule()).note
    print(json.dumps({"plots": plots.MIN_CASES, "tables": tables._MIN_INTERVAL,
                      "chart": plots.chart_withheld(plots.avoidability(nine)),
                      "interval": tables._interval(row, 9), "note": note}))
""")


def test_the_charts_and_the_tables_follow_the_one_constant():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["plots"] == 10 and seen["tables"] == 10
    assert seen["chart"] == ("Fewer than 10 cases with an avoidability score: chart not "
                             "shown")
    assert seen["interval"] is None  # 9 < 10: no interval
    assert "Intervals are Wilson score intervals, not shown on fewer than 10 reviews." in \
        seen["note"]


def test_today_the_one_constant_is_8():
    from sjrlib.report import tables
    from sjrlib.stats.descriptive import MIN_CASES_FOR_INTERVAL

    assert tables._MIN_INTERVAL == MIN_CASES_FOR_INTERVAL == 8
    from sjrlib import plots

    assert plots.MIN_CASES == MIN_CASES_FOR_INTERVAL
