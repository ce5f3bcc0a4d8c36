"""Synthetic, fictional SJR data calibrated to published figures.

>>> from sjrlib.synthetic import generate
>>> data = generate(n_organisations=6, years=2, seed=1)          # doctest: +SKIP
>>> data.organisations, data.deaths, data.reviews, data.scenarios  # doctest: +SKIP

The frames have exactly the shapes of :mod:`sjrlib.domain` and pass the validation rules of
:mod:`sjrlib.schema`. Organisations are invented (names and codes no real body holds). Every
figure the data is calibrated to is a field of :class:`CalibrationParams`, with its source.
"""

from sjrlib.synthetic.generator import SyntheticData, generate
from sjrlib.synthetic.organisations import ENGLAND_CODE_PATTERN, SCOTLAND_CODE_PATTERN
from sjrlib.synthetic.params import CalibrationParams
from sjrlib.synthetic.scenarios import SCENARIO_COLUMNS

__all__ = [
    "CalibrationParams",
    "ENGLAND_CODE_PATTERN",
    "SCENARIO_COLUMNS",
    "SCOTLAND_CODE_PATTERN",
    "SyntheticData",
    "generate",
]
