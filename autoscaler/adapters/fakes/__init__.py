"""The ports in memory, for the use-case tests and the simulator. The contract suites (tests/contract) hold each
to its AWS adapter."""
