"""The SJR form declared once: questions, answer lists and form versions.

Import from :mod:`sjrlib.form.registry` (``from sjrlib.form.registry import registry``).
"""
