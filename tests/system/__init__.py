"""Roster as it runs: real servers in subprocesses, several processes on one database, and the
public conformance suites."""
