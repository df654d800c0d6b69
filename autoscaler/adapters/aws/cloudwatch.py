"""MetricsPort and AlarmsPort on a botocore CloudWatch client.

Metrics are read as raw Sum series (no metric math: moto returns nothing for it, and utilisation needs N, which is
not a metric), with StartTime and EndTime aligned to the period (CloudWatch buckets start at StartTime).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from autoscaler.adapters.aws.errors import error_code
from autoscaler.app.ports import AlarmInfo
from autoscaler.core.capacity import AlarmSpec
from autoscaler.core.errors import AlarmNotFound, AwsCallFailed, MetricsUnavailable
from autoscaler.core.limits import INCOMING_BYTES, INCOMING_RECORDS, READ_METRICS, WRITE_THROTTLED, stat_of
from autoscaler.core.model import MetricSeries, ReadMetrics, StreamMetrics
from autoscaler.events import KINESIS_NAMESPACE

METRICS_IAM_ACTIONS = ("cloudwatch:GetMetricData",)
ALARMS_IAM_ACTIONS = ("cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:SetAlarmState")
IAM_ACTIONS = METRICS_IAM_ACTIONS + ALARMS_IAM_ACTIONS

MAX_QUERIES = 500  # GetMetricData's limit per call
DESCRIBE_ALARMS_NAMES = 100  # DescribeAlarms takes at most 100 AlarmNames

# PutMetricAlarm parameters that DescribeAlarms returns under the same name: re-putting them keeps the alarm as is.
_KEPT_FIELDS = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class MetricsAdapter:
    def __init__(self, client: Any) -> None:
        self.client = client

    def write_metrics(
        self,
        stream: str,
        *,
        end: float,
        lookback_seconds: int,
        period_seconds: int,
        shard_ids: Sequence[str] = (),
        read: bool = False,
    ) -> StreamMetrics:
        end_aligned = int(end) // period_seconds * period_seconds
        start = end_aligned - lookback_seconds // period_seconds * period_seconds
        stream_dims = [{"Name": "StreamName", "Value": stream}]
        queries: list[dict[str, Any]] = [
            _query("b", INCOMING_BYTES, stream_dims, period_seconds),
            _query("r", INCOMING_RECORDS, stream_dims, period_seconds),
            _query("t", WRITE_THROTTLED, stream_dims, period_seconds),
        ]
        if read:
            queries += [_query(f"rd{i}", m, stream_dims, period_seconds) for i, m in enumerate(READ_METRICS)]
        for i, shard_id in enumerate(shard_ids):
            dims = [*stream_dims, {"Name": "ShardId", "Value": shard_id}]
            queries.append(_query(f"s{i}", INCOMING_BYTES, dims, period_seconds))
        results = self.get_metric_data(queries, start=start, end=end_aligned)
        by_shard = {sid: sum(results[f"s{i}"].values()) for i, sid in enumerate(shard_ids) if results.get(f"s{i}")}

        def series(qid: str) -> MetricSeries:
            return MetricSeries(period_seconds, tuple(v for _, v in sorted(results.get(qid, {}).items())))

        return StreamMetrics(
            read=ReadMetrics(*(series(f"rd{i}") for i in range(len(READ_METRICS)))) if read else None,
            incoming_bytes=MetricSeries(period_seconds, tuple(v for _, v in sorted(results.get("b", {}).items()))),
            incoming_records=MetricSeries(period_seconds, tuple(v for _, v in sorted(results.get("r", {}).items()))),
            shard_incoming_bytes=by_shard,
            throttled_records=MetricSeries(period_seconds, tuple(v for _, v in sorted(results.get("t", {}).items()))),
        )

    def fleet_series(
        self, streams: Sequence[str], metrics: Sequence[str], *, start: int, end: int, period_seconds: int
    ) -> dict[str, dict[str, dict[int, float]]]:
        """One query per (stream, metric), ≤ 500 per GetMetricData call: 500 streams × 2 metrics = 2 calls (AWS
        may page a call's answer further at 100,800 datapoints; NextToken is followed)."""
        queries: list[dict[str, Any]] = []
        ids: dict[str, tuple[str, str]] = {}
        for i, stream in enumerate(streams):
            dims = [{"Name": "StreamName", "Value": stream}]
            for j, metric in enumerate(metrics):
                qid = f"m{i}_{j}"
                ids[qid] = (stream, metric)
                queries.append(_query(qid, metric, dims, period_seconds))
        results = self.get_metric_data(queries, start=start, end=end) if queries else {}
        out: dict[str, dict[str, dict[int, float]]] = {s: {m: {} for m in metrics} for s in streams}
        for qid, series in results.items():
            stream, metric = ids[qid]
            out[stream][metric] = series
        return out

    def get_metric_data(
        self, queries: Sequence[dict[str, Any]], *, start: int, end: int
    ) -> dict[str, dict[int, float]]:
        """Run queries in batches of ≤ 500, following NextToken; returns id -> {epoch: value}.

        PartialData means "more pages follow" and is continued; InternalError and Forbidden raise.
        """
        out: dict[str, dict[int, float]] = {}
        for offset in range(0, len(queries), MAX_QUERIES):
            batch = list(queries[offset : offset + MAX_QUERIES])
            kwargs: dict[str, Any] = {
                "MetricDataQueries": batch,
                "StartTime": _ts(start),
                "EndTime": _ts(end),
                "ScanBy": "TimestampAscending",
            }
            while True:
                try:
                    page = self.client.get_metric_data(**kwargs)
                except ClientError as exc:
                    raise MetricsUnavailable(f"GetMetricData failed ({error_code(exc)})") from exc
                for result in page.get("MetricDataResults", []):
                    status = result.get("StatusCode", "Complete")
                    if status in ("InternalError", "Forbidden"):
                        raise MetricsUnavailable(f"GetMetricData {result.get('Id')}: {status}")
                    if status == "PartialData" and not page.get("NextToken"):
                        raise MetricsUnavailable(f"GetMetricData {result.get('Id')}: PartialData and no next page")
                    series = out.setdefault(result["Id"], {})
                    for t, v in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                        series[int(t.timestamp())] = float(v)
                token = page.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        return out


def _query(qid: str, metric: str, dims: list[dict[str, str]], period: int) -> dict[str, Any]:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {"Namespace": KINESIS_NAMESPACE, "MetricName": metric, "Dimensions": dims},
            "Period": period,
            "Stat": stat_of(metric),  # Sum, or Maximum for the lag metrics (core/limits.py METRIC_STAT)
        },
        "ReturnData": True,
    }


class AlarmsAdapter:
    def __init__(self, client: Any) -> None:
        self.client = client

    def metric_alarms(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every metric alarm DescribeAlarms returns for the filters, page after page. Moto does not AND combined
        filters (AlarmNames, AlarmNamePrefix, StateValue): callers check what they need of each alarm themselves."""
        kwargs: dict[str, Any] = {**filters, "AlarmTypes": ["MetricAlarm"]}
        while True:
            try:
                page = self.client.describe_alarms(**kwargs)
            except ClientError as exc:
                raise AwsCallFailed(f"DescribeAlarms failed ({error_code(exc)})") from exc
            yield from page.get("MetricAlarms", [])
            token = page.get("NextToken")
            if not token:
                return
            kwargs["NextToken"] = token

    def _describe(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for offset in range(0, len(names), DESCRIBE_ALARMS_NAMES):
            for alarm in self.metric_alarms(AlarmNames=list(names[offset : offset + DESCRIBE_ALARMS_NAMES])):
                if alarm["AlarmName"] in names:
                    found[alarm["AlarmName"]] = alarm
        return found

    def get_alarms(self, names: Sequence[str]) -> dict[str, AlarmInfo]:
        return {
            name: AlarmInfo(
                name, float(a.get("Threshold", 0.0)), int(a.get("Period", 60)), str(a.get("StateValue", ""))
            )
            for name, a in self._describe(names).items()
        }

    def put_thresholds(self, thresholds: Mapping[str, float]) -> None:
        existing = self._describe(list(thresholds))
        for name, threshold in thresholds.items():
            alarm = existing.get(name)
            if alarm is None:
                raise AlarmNotFound(f"alarm {name} does not exist; run create-streams to restore it")
            params = {k: alarm[k] for k in _KEPT_FIELDS if k in alarm and alarm[k] not in (None, "")}
            self._put(AlarmName=name, Threshold=threshold, **params)

    def alarmed(self, name_prefix: str) -> list[str]:
        return sorted(
            a["AlarmName"]
            for a in self.metric_alarms(AlarmNamePrefix=name_prefix, StateValue="ALARM")
            if a["AlarmName"].startswith(name_prefix) and a.get("StateValue") == "ALARM"
        )

    def set_ok(self, names: Sequence[str], reason: str) -> None:
        for name in names:
            try:
                self.client.set_alarm_state(AlarmName=name, StateValue="OK", StateReason=reason[:1023])
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFound":
                    raise AlarmNotFound(f"alarm {name} does not exist") from exc
                raise AwsCallFailed(f"SetAlarmState {name} failed ({error_code(exc)})") from exc

    def ensure_alarms(self, specs: Sequence[AlarmSpec], action_arns: Sequence[str]) -> None:
        for spec in specs:
            self._put(
                AlarmName=spec.name,
                AlarmDescription=spec.description,
                ActionsEnabled=True,
                AlarmActions=list(action_arns),
                Namespace=KINESIS_NAMESPACE,
                MetricName=spec.metric_name,
                Dimensions=[{"Name": "StreamName", "Value": spec.stream}],
                Statistic=stat_of(spec.metric_name),  # Maximum for the iterator age: the reader furthest behind
                Period=spec.period_seconds,
                EvaluationPeriods=spec.evaluation_periods,
                DatapointsToAlarm=spec.datapoints_to_alarm,
                Threshold=spec.threshold,
                ComparisonOperator=spec.comparison,
                TreatMissingData="notBreaching",  # no datapoint = no writes (reads) = no reason to scale up
            )

    def _put(self, **params: Any) -> None:
        try:
            self.client.put_metric_alarm(**params)
        except ClientError as exc:
            raise AwsCallFailed(f"PutMetricAlarm {params.get('AlarmName')} failed ({error_code(exc)})") from exc
