"""CLI command groups, one module per area (see sjrlib/cli.py)."""
