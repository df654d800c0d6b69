"""What every command shares: the consoles and the one way an operator-fixable error becomes a line and an exit code."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from autoscaler.core.errors import AutoscalerError, ConfigError, StreamNotFound, StreamNotProvisioned

out = Console()
err = Console(stderr=True)


def _run(fn: Any) -> Any:
    """Turn the errors an operator can fix into one clear line and an exit code."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    try:
        return fn()
    except NoCredentialsError:
        err.print("[red]no AWS credentials:[/red] set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        raise typer.Exit(3) from None
    except EndpointConnectionError as exc:
        err.print(
            f"[red]cannot reach AWS at {exc.kwargs.get('endpoint_url')}:[/red] check AWS_REGION (is it a real region "
            f"code, e.g. us-east-1?), AWS_ENDPOINT_URL and the network"
        )
        raise typer.Exit(3) from None
    except (StreamNotFound, StreamNotProvisioned, ConfigError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except AutoscalerError as exc:
        err.print(f"[red]failed:[/red] {exc}")
        raise typer.Exit(1) from None
    except (ClientError, BotoCoreError) as exc:
        err.print(f"[red]AWS error:[/red] {exc}")
        raise typer.Exit(3) from None
