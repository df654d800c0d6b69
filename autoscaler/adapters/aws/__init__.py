"""Adapters: the ports on botocore clients. They own AWS error codes, retries and pagination.

Each module declares IAM_ACTIONS, the actions it calls; tests/integration/test_template.py holds template.yaml to
exactly their union.
"""
