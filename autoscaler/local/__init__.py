"""Local-emulator helpers for `make demo`, the end-to-end tests and the benchmarks (never used in Lambda)."""
