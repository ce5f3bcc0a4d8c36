"""Notices of an import that are not errors: the file is imported, but the person should know
something about it (e.g. a workbook's other sheets were not read).

They are Python warnings of the category :class:`ImportNotice`, so a library caller can catch,
record or silence them; the ``sjr`` command line prints each as one line on standard error
(:mod:`sjrlib.cli`).
"""

from __future__ import annotations

__all__ = ["ImportNotice"]


class ImportNotice(UserWarning):
    """Something a person importing a file should know that does not stop the import."""
