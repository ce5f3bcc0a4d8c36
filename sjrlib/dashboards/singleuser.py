"""``sjr-singleuser``: JupyterHub's ``jupyterhub-singleuser``, started without
``rfc3987_syntax``'s parser building (:mod:`sjrlib.import_speed`: 1.3 s of CPU at every
person's sign-in, before their first page). ``deploy/jupyterhub_config.py`` spawns it.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run JupyterHub's single-user server as ``jupyterhub-singleuser`` would."""
    from sjrlib.import_speed import skip_slow_iri_checker

    skip_slow_iri_checker()
    from jupyterhub.singleuser import main as singleuser

    return singleuser() or 0


if __name__ == "__main__":  # pragma: no cover - the hub runs the console script
    sys.exit(main())
