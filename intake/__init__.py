"""Intake pipeline for the 寻找最美保密法治代言人 micro-video contest."""

__version__ = "0.1.0"
