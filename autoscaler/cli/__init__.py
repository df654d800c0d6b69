"""The operator's command line (typer). Nothing imports it."""

from autoscaler.cli.main import app, main

__all__ = ["app", "main"]
