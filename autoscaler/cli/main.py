"""Operator CLI: plan, scale-up, scale-down, scale, capacity-mode, status, doctor, create-streams, remove-alarms,
validate-config, local, simulate, backtest.

The same service code path as the Lambda, on the standard AWS credential chain, or --region/--profile/--endpoint-url.
Every command's shared options, output forms and exit codes: autoscaler/cli/common.py (README "CLI reference").
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from autoscaler.cli import fleet, onboarding, scaling
from autoscaler.cli.common import OUTPUT_OPTIONS, command
from autoscaler.cli.local import local_app
from autoscaler.cli.simulate import backtest_command, simulate_command

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Operate kinesis-autoscaler.")
plan_app = typer.Typer(no_args_is_help=True, help="Show what the autoscaler would do, changing nothing.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"kinesis-autoscaler {version('kinesis-autoscaler')}")
        except PackageNotFoundError:  # run from a source tree that was never installed (`make venv` installs it)
            typer.echo("kinesis-autoscaler (not installed: version unknown)")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Operate kinesis-autoscaler."""


app.add_typer(plan_app, name="plan")
scaling.register(app, plan_app)
fleet.register(app)
onboarding.register(app)
app.add_typer(local_app, name="local")
# simulate replays a file: output options only; backtest reads CloudWatch too (both declare their own --config/--json)
command(app, "simulate", options=OUTPUT_OPTIONS)(simulate_command)
command(app, "backtest", options=(*OUTPUT_OPTIONS, "opt_region", "opt_profile", "opt_endpoint_url"))(backtest_command)


def main() -> None:
    os.environ.setdefault("AWS_RETRY_MODE", "standard")
    app(prog_name="kinesis-autoscaler")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
