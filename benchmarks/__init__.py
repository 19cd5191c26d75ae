"""Benchmarks: compression, fidelity and latency against baselines run in the same process."""
