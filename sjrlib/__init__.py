"""sjrlib: the Structured Judgement Review domain model, loaders, validation, statistics, plots."""

__version__ = "0.1.0"
