"""Régie's benchmark: fan-out to N viewers and API reads, against bare baselines (see README.md)."""
