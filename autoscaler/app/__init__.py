"""Use cases run through ports: the one stream-action lifecycle (lifecycle.py), scale-up, scale-down, status, doctor,
gauge and onboarding. Imports core, config and events; never an AWS SDK, a client or os.environ."""
