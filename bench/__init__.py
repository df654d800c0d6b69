"""Benchmarks (`make bench`): figures named in the issues, measured in one run, reported as ratios or times."""
