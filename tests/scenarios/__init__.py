"""Scenarios shared by tests of several backends (the same story, another bus)."""
