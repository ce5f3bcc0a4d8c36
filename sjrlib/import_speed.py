"""What our own processes leave out of their imports, and why.

``jsonschema`` (imported by ``nbformat``, hence by papermill and nbconvert in every report
process, and by ``jupyter_events``, hence by every Jupyter and Voila server) imports
``rfc3987_syntax`` when it is installed, to check the ``iri`` and ``iri-reference`` string
formats. That package (1.1.0, pulled in by ``jsonschema[format-nongpl]``) builds some thirty
Earley parsers when it is imported: 1.3 s of CPU on this project's two-core machine, in each
such process, for a format no notebook or Jupyter schema uses (jsonschema#1428; the
maintained fork that loads lazily, rfc3987-syntax2, is not what jsonschema asks for). The
other format checkers are untouched, and ``rfc3987`` (GPL) is still used if it is installed.

Only the processes this project starts leave it out (the ``sjr`` command, with the report
batch's workers forked from it, and the Voila server of ``sjr serve``); a researcher's own
kernel imports what it likes.
"""

from __future__ import annotations

import sys

SLOW_IMPORT = "rfc3987_syntax"


def skip_slow_iri_checker() -> bool:
    """Make ``import rfc3987_syntax`` fail as if it were not installed, for this process (and
    its forks); ``jsonschema`` then has no checker for ``iri``/``iri-reference`` strings.

    Returns whether it was left out: not when ``jsonschema`` or the package itself has already
    been imported (the cost is then paid, and the checker kept).
    """
    if SLOW_IMPORT in sys.modules or "jsonschema" in sys.modules:
        return sys.modules.get(SLOW_IMPORT, 0) is None
    sys.modules[SLOW_IMPORT] = None  # type: ignore[assignment]  # import then raises ImportError
    return True
