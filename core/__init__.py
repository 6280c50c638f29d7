"""The bottom layer: errors, failpoints, time formatting and text cleaning. Imports nothing of ours."""
