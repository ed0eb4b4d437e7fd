"""Helpers shared by tests and benchmarks; nothing here is used at run time."""
