"""Benchmarks: ``python -m bench.<name>``; figures go in closing notes, never into test assertions."""
