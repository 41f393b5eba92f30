"""Benchmarks: `python -m bench` measures and writes bench/RESULTS.md."""
