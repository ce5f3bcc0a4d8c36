"""Our processes start without rfc3987_syntax's 1.3 s of parser building (sjrlib/import_speed).

Each check runs in a fresh interpreter: what is imported is a property of a process.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_jsonschema_then_checks_every_other_format_without_it():
    pytest.importorskip("rfc3987_syntax")  # installed with jsonschema[format-nongpl]
    out = _run(
        "import sys\n"
        "from sjrlib.import_speed import skip_slow_iri_checker\n"
        "print(skip_slow_iri_checker())\n"
        "import jsonschema\n"
        "checker = jsonschema.FormatChecker()\n"
        "print(sys.modules['rfc3987_syntax'] is None, 'iri' in checker.checkers)\n"
        "print(checker.conforms('2024-02-30', 'date'), checker.conforms('2024-02-29', 'date'),"
        " checker.conforms('a@b.example', 'email'), checker.conforms('nope', 'email'))\n")
    assert out.splitlines() == ["True", "True False", "False True True False"]


def test_sjr_leaves_it_out_before_any_command_imports_nbformat():
    pytest.importorskip("rfc3987_syntax")
    out = _run(
        "import sys\n"
        "from sjrlib import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "import nbformat\n"
        "print(repr(sys.modules.get('rfc3987_syntax', 'absent')))\n")
    assert out.splitlines()[-1] == "None"


def test_a_process_that_already_imported_jsonschema_keeps_its_checker():
    pytest.importorskip("rfc3987_syntax")
    out = _run(
        "import sys, jsonschema\n"
        "from sjrlib.import_speed import skip_slow_iri_checker\n"
        "print(skip_slow_iri_checker(), type(sys.modules.get('rfc3987_syntax')).__name__,"
        " 'iri' in jsonschema.FormatChecker().checkers)\n")
    assert out == "False module True"


def test_the_hubs_single_user_server_leaves_it_out():
    """``sjr-singleuser`` (deploy/jupyterhub_config.py's Spawner.cmd) is JupyterHub's own
    single-user server: its version, and the import left out before Jupyter Server's."""
    pytest.importorskip("rfc3987_syntax")
    out = _run(
        "import sys\n"
        "from sjrlib.dashboards import singleuser\n"
        "sys.argv = ['sjr-singleuser', '--version']\n"
        "try:\n"
        "    singleuser.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "import jupyterhub\n"
        "print('jsonschema' in sys.modules, repr(sys.modules.get('rfc3987_syntax', 'absent')))\n")
    lines = out.splitlines()
    import jupyterhub

    assert jupyterhub.__version__ in lines[0]
    assert lines[-1] == "True None"


def test_the_reports_and_statistics_import_statsmodels_models_not_its_whole_api():
    """``statsmodels.api`` imports all of statsmodels (time series, graphics, distributions):
    about 0.3 s more in every report kernel and dashboard. The reports and the statistics
    modules import the models they fit, and those models still fit."""
    out = _run(
        "import sys\n"
        "import sjrlib.report.trust, sjrlib.report.national, sjrlib.stats.models\n"
        "import sjrlib.stats.clustered as c, sjrlib.stats.models as m\n"
        "print('statsmodels.api' in sys.modules)\n"
        "import numpy as np\n"
        "fit = c.GLM(np.array([1., 0., 1., 1.]), c.add_constant(np.arange(4.)),"
        " family=c.families.Binomial()).fit()\n"
        "print(len(fit.params), m.GLM is c.GLM)\n")
    assert out.splitlines() == ["False", "2 True"]
