"""Roster's tests, laid out like the source they test (see README, "Layout")."""
