"""Benchmarks: timings measured side by side in one run and printed as tables (not tests).

``python -m bench.refresh`` — incremental vs full refresh of a sensor pipeline.
"""
