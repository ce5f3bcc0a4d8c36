"""What an exploration page's kernel imports before its first chart (issue 16 part 4, issue 17
part 1): neither statsmodels nor scipy (about a CPU second and 60 MB per kernel), and a
Wilson interval written out that agrees with statsmodels' own."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from sjrlib.stats.descriptive import wilson_interval

HEAVY = ("statsmodels", "scipy", "seaborn", "sklearn")


def test_the_dashboard_kernel_imports_no_statsmodels_or_scipy():
    # a fresh interpreter, as a kernel: the dashboard module, the governed session, and
    # everything the views draw with (warm_up imports the plots, tables and statistics)
    code = (
        "import sys\n"
        "from sjrlib.dashboards import explore\n"
        "import data_access\n"
        "explore.warm_up()\n"
        "import sjrlib.report.tables, sjrlib.stats.descriptive, sjrlib.stats.lfd, sjrlib.spc\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_request_extract_is_still_importable_from_data_access():
    import data_access
    from data_access.extract_service import request_extract

    assert data_access.request_extract is request_extract
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        data_access.nothing_here  # noqa: B018


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01, 0.2, 0.001])
def test_wilson_interval_agrees_with_statsmodels(alpha):
    counts, trials = [], []
    for n in (1, 2, 3, 7, 8, 20, 99, 100, 1000, 123457):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            if 0 <= k <= n:
                counts.append(k)
                trials.append(n)
    counts, trials = np.array(counts), np.array(trials)
    lower, upper = wilson_interval(counts, trials, alpha)
    ref_lower, ref_upper = proportion_confint(counts, trials, alpha=alpha, method="wilson")
    np.testing.assert_allclose(lower, np.clip(ref_lower, 0, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(upper, np.clip(ref_upper, 0, 1), rtol=0, atol=1e-12)
    assert (lower[counts == 0] == 0).all() and (upper[counts == trials] == 1).all()
