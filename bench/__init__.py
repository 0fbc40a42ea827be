"""Benchmark harness (run.py), load generators (loadgen.py) and the baseline app."""
