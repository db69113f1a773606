"""Benchmark of the composer against its peers: `python bench/run.py`."""
