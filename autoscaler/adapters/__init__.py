"""The ports' implementations: aws/ on botocore, fakes/ in memory (UPDATING, limits, TTL, a simulated clock), and
runtime.py (the system clock and Lambda's budget)."""
