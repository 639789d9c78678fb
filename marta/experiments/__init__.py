"""Experiment runner, evaluation protocol, metrics and reports (host-side code)."""
