"""Skew guards: the served-feature log, consistency, drift, freshness and training records."""
