"""Checks on a submitted video file. Each check returns a CheckResult; none raises for a bad video."""
