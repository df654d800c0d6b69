"""`make demo`: the autoscaler end to end against a local moto server (started and stopped here).

Act 1 — scale-up: a burst of write traffic on `orders`, the alarm notification delivered to the scale-up handler,
a second alarm for the same burst right behind it (exactly one action), and the stream before and after.
Act 2 — scale-down: a quiet day on `events` (12% of its 8 shards), none on `clickstream`, then the scheduled
scale-down handler: merges on the quiet streams; `orders` is skipped by the up-cooldown act 1 set (reason code
`cooldown`), not by its burst, which is under the scale-down threshold.

Each act prints the reason codes the handlers log and explains them from the run's own figures; the run checks its
own claims, and exits 1 when an outcome or a reason differs from what it explains.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autoscaler.local.moto_server import MOTO_ACCOUNT_ID, running_moto_server  # noqa: E402

console = Console(width=max(shutil.get_terminal_size((140, 40)).columns, 120))
CONFIG = ROOT / "config" / "demo-streams.yaml"
TABLE = "kinesis-autoscaler-cooldown"
TOPIC = "kinesis-autoscaler-alarms"
STREAM = "orders"
BURST = 1.3  # the burst runs at 130% of the stream's write capacity (bytes)
# The burst lasts the alarms' 2 of 2 one-minute periods: what exists when CloudWatch notifies. It also keeps act 2
# the same at every minute of the hour: the scale-down reads 5-minute Sums aligned to the clock, and 2 burst minutes in
# one period stay under its 50% threshold at 11 shards, so `orders` always meets the cooldown (reason `cooldown`).
# With 5 burst minutes the period holding most of them decided: 3 of them read 39% (cooldown), 4 or 5 read 52% or
# 65% (reason `busy`) — the demo's story changed with the wall clock.
BURST_MINUTES = 2


def open_shards(kinesis: Any, stream: str = STREAM) -> list[Any]:
    """The stream's open shards, counted from ListShards (moto's OpenShardCount ignores splits and merges)."""
    from autoscaler.adapters.aws.kinesis import KinesisAdapter
    from autoscaler.adapters.runtime import SystemClock

    return list(KinesisAdapter(kinesis, SystemClock()).list_open_shards(stream))


def shard_table(kinesis: Any, title: str, stream: str = STREAM) -> Table:
    shards = open_shards(kinesis, stream)
    table = Table(title=f"{title}: {len(shards)} open shards")
    table.add_column("shard")
    table.add_column("hash-range share", justify="right")
    table.add_column("starting hash key", justify="right")
    for s in shards:
        table.add_row(s.shard_id, f"{s.share:.2%}", str(s.start))
    return table


def alarm_table(cloudwatch: Any, title: str) -> Table:
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"kinesis-autoscaler/{STREAM}/")["MetricAlarms"]
    table = Table(title=title)
    for col in ("alarm", "metric", "threshold (Sum per period)", "≈ shards at 80%", "state"):
        table.add_column(col)
    for a in alarms:
        per_shard = {"IncomingBytes": 0.8 * 1_048_576 * a["Period"], "IncomingRecords": 0.8 * 1_000 * a["Period"]}
        shards = f"{a['Threshold'] / per_shard[a['MetricName']]:.1f}" if a["MetricName"] in per_shard else "-"
        table.add_row(a["AlarmName"], a["MetricName"], f"{a['Threshold']:,.0f}", shards, a["StateValue"])
    return table


def lock_table(dynamodb: Any) -> Table:
    item = dynamodb.get_item(TableName=TABLE, Key={"stream": {"S": STREAM}}, ConsistentRead=True).get("Item", {})
    table = Table(title=f"cooldown lock item ({TABLE})")
    table.add_column("attribute")
    table.add_column("value")
    now = time.time()
    for key, value in sorted(item.items()):
        text = next(iter(value.values()))
        if key.endswith("_until") and float(text) > 0:
            text = f"{text}  ({float(text) - now:+.0f} s from now)"
        table.add_row(key, str(text))
    return table


def burst(cloudwatch: Any, shards: int) -> float:
    """BURST_MINUTES one-minute Sums at BURST × the capacity of `shards`, for the last whole minutes."""
    from autoscaler.local.setup import write_burst

    per_minute = BURST * shards * 1_048_576 * 60
    write_burst(cloudwatch, STREAM, bytes_per_minute=per_minute, records_per_minute=60_000.0, minutes=BURST_MINUTES)
    return per_minute


def result_table(results: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col in ("outcome", "shards", "reason", "method", "detail"):
        table.add_column(col)
    for r in results:
        shards = f"{r.get('current')} -> {r.get('after') or r.get('target')}" if r.get("current") is not None else "-"
        # a refused run has no plan: its reason code is the skip reason (cooldown, lock-held, ...)
        reason = f"{r.get('reason')}: {r.get('decision')}" if r.get("reason") else r.get("skip_reason") or "-"
        method = f"{r.get('method')}: {r.get('method_reason')}" if r.get("method") else "-"
        table.add_row(str(r.get("outcome")), shards, reason, method, str(r.get("detail", r.get("error", ""))))
    return table


def explain_scale_up(results: list[dict[str, Any]], before: list[Any]) -> bool:
    """Act 1 in words, from the results: the reason and method codes the handler logged, and why the method's figure
    of splits is not target − N. Returns whether the outcomes are the ones explained."""
    from autoscaler.core.scale_up import splits_for_capacity

    scaled = [r for r in results if r.get("outcome") == "scaled"]
    skipped = [r for r in results if r.get("outcome") == "skipped"]
    if len(scaled) != 1 or len(skipped) != 1:
        return False
    r, s = scaled[0], skipped[0]
    n, target = int(r["current"]), int(r["target"])
    k = splits_for_capacity(before, target)
    # A midpoint split halves one shard; evenly spread keys fill the widest shard first, so carrying `target` shards'
    # worth takes no shard wider than 1 / target of the key space: a shard of share f becomes 2^⌈log2(f × target)⌉
    # pieces. For 4 even shards and 11: 4 × 2.75 → 4 pieces each, 3 splits each, k = 12 (16 shards), not 11 − 4.
    pieces = sorted({2 ** math.ceil(math.log2(sh.share * target) - 1e-9) for sh in before if sh.share * target > 1})
    console.print(f"[bold]first alarm[/bold]: {r['outcome']}, reason [cyan]{r['reason']}[/cyan] — {r['decision']}")
    console.print(
        f"  method [cyan]{r['method']}[/cyan] — {r['method_reason']}; operations: {', '.join(r['ops']) or 'none'}"
    )
    console.print(
        f"  why {k} splits and not {target} − {n} = {target - n}: splits must add capacity, not only shards. A split "
        f"cuts one shard at its hash-range midpoint and evenly spread keys fill the widest shard first, so {target} "
        f"shards' worth needs no shard wider than 1/{target} of the key space: each of the {n} shards is cut into "
        f"{' or '.join(map(str, pieces))} pieces, {k} splits ({n + k} shards). The method compares their time with "
        "the chain of UpdateShardCount calls, each within AWS's [½×, 2×] of the count it starts from."
    )
    console.print(
        f"[bold]second alarm[/bold]: {s['outcome']}, reason [cyan]{s['skip_reason']}[/cyan] — the first run set the "
        f"up-cooldown: {s['detail']}"
    )
    return r["reason"] == "scaled_for_peak" and s["skip_reason"] == "cooldown" and f"{k} splits" in r["method_reason"]


def explain_scale_down(results: list[dict[str, Any]], threshold: float) -> bool:
    """Act 2 in words: each stream's outcome and reason code, and why orders was left alone. Returns whether the
    outcomes and reasons are the ones explained."""
    rows = {r["stream"]: r for r in results}
    for r in results:
        shards = f"{r['current']} -> {r['after'] or r['target']}" if r["current"] else "-"
        console.print(
            f"[bold]{r['stream']}[/bold]: {r['outcome']} {shards}, reason [cyan]{r['reason']}[/cyan] — "
            f"{r['decision'] or r['detail']}"
        )
    orders = rows.get(STREAM)
    if orders is None:
        return False
    peak = orders["peak_utilisation"]
    shown = f"{peak:.0%}" if peak is not None else "unknown"
    if orders["reason"] == "cooldown" and peak is not None and peak < threshold:
        console.print(
            f"  why {STREAM} keeps its {orders['current']} shards: not its burst — its 24 h peak, {shown}, is under "
            f"the scale-down threshold ({threshold:.0%}) — but the cooldown act 1's scale-up set: a scale-down waits "
            "out the stream's up and down cooldowns (reason cooldown). Once it lapses, the next scheduled run judges "
            "the stream on its traffic."
        )
    elif orders["reason"] == "busy":
        console.print(
            f"  why {STREAM} keeps its {orders['current']} shards: its burst — a datapoint of the 24 h lookback at or "
            f"above the scale-down threshold ({threshold:.0%}; peak {shown}) keeps the count (reason busy)."
        )
    return (
        (rows.get("events", {}).get("outcome"), rows.get("events", {}).get("reason")) == ("merged", "merge")
        and (rows.get("clickstream", {}).get("outcome"), rows.get("clickstream", {}).get("reason"))
        == ("merged", "no_traffic")
        and (orders["outcome"], orders["reason"]) == ("skipped", "cooldown")
        and peak is not None
        and peak < threshold
    )


def _emf_names(line: str) -> list[str]:
    import json

    try:
        blob = json.loads(line)
    except ValueError:
        return []
    return [m["Name"] for d in blob.get("_aws", {}).get("CloudWatchMetrics", []) for m in d.get("Metrics", [])]


def main() -> int:
    console.print(Panel.fit("kinesis-autoscaler demo — local moto server on 127.0.0.1", style="bold"))
    with running_moto_server() as server:
        console.print(f"moto server started at {server.endpoint} (it is stopped when the demo ends)")
        os.environ.update(server.env())
        os.environ.update(
            AUTOSCALER_CONFIG=str(CONFIG),
            COOLDOWN_TABLE=TABLE,
            AWS_LAMBDA_FUNCTION_NAME="kinesis-autoscaler-scale-up",
            POWERTOOLS_LOG_LEVEL="WARNING",
            POWERTOOLS_METRICS_DISABLED="true",
        )
        from autoscaler.config import load_config
        from autoscaler.events.notification import sns_alarm_event
        from autoscaler.local.alarm_events import FakeLambdaContext
        from autoscaler.local.setup import bootstrap, local_clients

        cfg = load_config(CONFIG)
        clients = local_clients(server.endpoint)
        stack = bootstrap(clients, cfg, table=TABLE, topic=TOPIC)
        console.print(
            f"created streams {', '.join(f'{s.name} ({s.desired_shards} shards)' for s in cfg.streams)}, "
            f"their alarms → {stack.topic_arn}, and the cooldown table {TABLE}"
        )

        console.rule("Act 1 — a burst of writes on orders")
        before = open_shards(clients.kinesis)
        console.print(shard_table(clients.kinesis, "before"))
        console.print(alarm_table(clients.cloudwatch, "alarms before"))
        per_minute = burst(clients.cloudwatch, 4)
        console.print(
            f"wrote {BURST_MINUTES} one-minute IncomingBytes datapoints of {per_minute:,.0f} bytes = {BURST:.0%} of 4 "
            f"shards' capacity (4 × 1 MiB/s × 60 s): the alarm's {BURST_MINUTES} of {BURST_MINUTES} breaching minutes"
        )
        console.print(
            "[yellow]moto never evaluates alarms nor publishes to SNS:[/yellow] the demo delivers the SNS "
            "notification CloudWatch would send for the IncomingBytes alarm, then the IncomingRecords one right after."
        )

        handler_module = importlib.import_module("autoscaler.handlers.scale_up")
        alarms = {
            a["AlarmName"]: a
            for a in clients.cloudwatch.describe_alarms(AlarmNamePrefix=f"kinesis-autoscaler/{STREAM}/")["MetricAlarms"]
        }
        first = sns_alarm_event(
            alarm=alarms[f"kinesis-autoscaler/{STREAM}/incoming-bytes"], account=MOTO_ACCOUNT_ID, at=datetime.now(UTC)
        )
        second = sns_alarm_event(
            alarm=alarms[f"kinesis-autoscaler/{STREAM}/incoming-records"], account=MOTO_ACCOUNT_ID, at=datetime.now(UTC)
        )
        started = time.monotonic()
        emf = io.StringIO()  # the handler prints its metrics as CloudWatch EMF lines on stdout: count, don't show
        with contextlib.redirect_stdout(emf):
            out1 = handler_module.handler(first, FakeLambdaContext(MOTO_ACCOUNT_ID))["results"]
            out2 = handler_module.handler(second, FakeLambdaContext(MOTO_ACCOUNT_ID))["results"]
        elapsed = time.monotonic() - started
        metric_names = sorted({n for line in emf.getvalue().splitlines() for n in _emf_names(line)})
        console.print(
            f"the handler emitted {len(emf.getvalue().splitlines())} EMF metric lines ({', '.join(metric_names)})"
        )
        console.print(result_table(out1 + out2, f"scale-up handler results ({elapsed:.2f} s for both deliveries)"))
        explained = explain_scale_up(out1 + out2, before)

        console.print(shard_table(clients.kinesis, "after"))
        console.print(alarm_table(clients.cloudwatch, "alarms after (thresholds for the new count, state reset to OK)"))
        console.print(lock_table(clients.dynamodb))

        scaled = [r for r in out1 + out2 if r.get("outcome") == "scaled"]
        skipped = [r for r in out1 + out2 if r.get("outcome") == "skipped"]
        ok = len(scaled) == 1 and len(skipped) == 1 and explained
        console.print(
            Panel.fit(
                f"{len(scaled)} scaling action, {len(skipped)} alarm skipped by the cooldown: "
                + ("exactly once, as designed." if ok else "[red]unexpected![/red]"),
                style="green" if ok else "red",
            )
        )

        console.rule("Act 2 — a quiet day, then the scheduled scale-down")
        from autoscaler.local.setup import write_quiet_day

        write_quiet_day(clients.cloudwatch, "events", utilisation=0.12, shards=8)
        console.print(
            "wrote 25 h of 5-minute datapoints for events at 12% of its 8 shards' capacity; clickstream wrote nothing; "
            "orders has act 1's burst"
        )
        console.print(shard_table(clients.kinesis, "events before", "events"))
        down = importlib.import_module("autoscaler.handlers.scale_down")
        scheduled = {
            "version": "0",
            "id": "demo",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": MOTO_ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [f"arn:aws:events:us-east-1:{MOTO_ACCOUNT_ID}:rule/scale-down"],
            "detail": {},
        }
        with contextlib.redirect_stdout(io.StringIO()):
            started = time.monotonic()
            run = down.handler(
                scheduled, FakeLambdaContext(MOTO_ACCOUNT_ID, function_name="kinesis-autoscaler-scale-down")
            )
            elapsed = time.monotonic() - started
        table = Table(title=f"scale-down handler ({elapsed:.2f} s, {run['metric_reads']} batched metric reads)")
        for col in ("stream", "outcome", "shards", "24 h peak", "decision", "merges"):
            table.add_column(col)
        for r in run["results"]:
            peak = f"{r['peak_utilisation']:.0%}" if r["peak_utilisation"] is not None else "-"
            shards = f"{r['current']} -> {r['after'] or r['target']}" if r["current"] else "-"
            table.add_row(
                r["stream"],
                r["outcome"],
                shards,
                peak,
                f"{r['reason']}: {r['decision'] or r['detail']}",
                "\n".join(r["ops_done"]) or "-",
            )
        console.print(table)
        orders_cfg = cfg.stream(STREAM)
        threshold = orders_cfg.scale_down_threshold if orders_cfg is not None else cfg.defaults.scale_down_threshold
        ok_down = explain_scale_down(run["results"], threshold)
        console.print(shard_table(clients.kinesis, "events after", "events"))
        outcomes = {r["stream"]: (r["outcome"], r["after"]) for r in run["results"]}
        ok_down = ok_down and outcomes.get("events") == ("merged", 4) and outcomes.get("clickstream") == ("merged", 1)
        console.print(
            Panel.fit(
                "events 8 -> 4 (merge, at most halving per run), clickstream 2 -> 1 (no_traffic), orders skipped "
                "(cooldown, from act 1's scale-up): " + ("as designed." if ok_down else "[red]unexpected![/red]"),
                style="green" if ok_down else "red",
            )
        )
        ok = ok and ok_down
    console.print("moto server stopped.")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; the moto server was stopped[/yellow]")
        sys.exit(130)
