"""Traffic traces: per-minute write Sums of one stream, read from CSV or built from CloudWatch datapoints.

CSV format (../shared/traces/README.md): header `timestamp,incoming_bytes,incoming_records`; each row holds the Sum
written during the period starting at its timestamp (ISO 8601, UTC); the period is the spacing of the rows; rows may be
missing (no data, as CloudWatch reports it: no writes). A period longer than a minute is spread evenly over its
minutes, so the simulator always steps one minute at a time.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from autoscaler.core.errors import TraceError
from autoscaler.core.limits import SHARD_WRITE_BYTES_PER_S, SHARD_WRITE_RECORDS_PER_S
from autoscaler.core.model import History

HEADER = ("timestamp", "incoming_bytes", "incoming_records")
SHARD_BYTES_PER_MINUTE = SHARD_WRITE_BYTES_PER_S * 60  # 62,914,560
SHARD_RECORDS_PER_MINUTE = SHARD_WRITE_RECORDS_PER_S * 60  # 60,000
MAX_TRACE_MINUTES = 2 * 366 * 1440  # two years of minutes: more is a mistake (and ~6 M floats per list)


class Trace(NamedTuple):
    """A stream's writes per minute: bytes[i] and records[i] were written in [start + 60 i, start + 60 i + 60)."""

    name: str
    start: int  # epoch seconds of minute 0, aligned to the minute
    bytes: Sequence[float]
    records: Sequence[float]
    source_period_seconds: int = 60  # the spacing of the rows it was read from

    @property
    def minutes(self) -> int:
        return len(self.bytes)

    def load(self, minute: int) -> float:
        """Load of one minute in shard-equivalents: max(bytes / 60 MiB, records / 60,000)."""
        return max(self.bytes[minute] / SHARD_BYTES_PER_MINUTE, self.records[minute] / SHARD_RECORDS_PER_MINUTE)

    def loads(self) -> list[float]:
        b, r = SHARD_BYTES_PER_MINUTE, SHARD_RECORDS_PER_MINUTE
        return [max(x / b, y / r) for x, y in zip(self.bytes, self.records, strict=True)]


def _epoch(text: str, where: str) -> int:
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise TraceError(f"{where}: timestamp {text!r} is not ISO 8601 (e.g. 2014-07-01T00:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the format says UTC
    return int(parsed.timestamp())


def _number(text: str, field: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{where}: {field} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise TraceError(f"{where}: {field} {text!r} must be a finite number ≥ 0 (a Sum of writes)")
    return value


def load_csv(path: str | Path) -> Trace:
    """Read a trace CSV. Raises TraceError naming the file and line of the first problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{p}: cannot read it ({exc})") from None
    rows: list[tuple[int, float, float]] = []
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise TraceError(f"{p}, line 1: the header must be {','.join(HEADER)} (got {','.join(header or [])!r})")
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{p}, line {line}"
        if len(row) != 3:
            raise TraceError(f"{where}: expected 3 columns ({','.join(HEADER)}), got {len(row)}")
        rows.append((_epoch(row[0], where), _number(row[1], HEADER[1], where), _number(row[2], HEADER[2], where)))
    return from_rows(p.stem, rows, source=str(p))


def period_of(timestamps: Sequence[int], source: str) -> int:
    """The row spacing: the most common gap between consecutive rows (gaps are missing periods, not the period)."""
    if len(timestamps) < 2:
        return 60
    gaps = Counter(b - a for a, b in itertools.pairwise(timestamps))
    period = min(gaps.most_common(), key=lambda kv: (-kv[1], kv[0]))[0]
    if period < 60 or period % 60:
        raise TraceError(f"{source}: rows are {period} s apart; the period must be a whole number of minutes")
    return period


def from_rows(name: str, rows: Iterable[tuple[int, float, float]], *, source: str, period: int | None = None) -> Trace:
    """Build a per-minute trace from (epoch, bytes Sum, records Sum) rows of one period, spreading each row evenly
    over its minutes. Missing rows stay zero (no datapoint = no writes). Rows must be in time order."""
    data = list(rows)
    if not data:
        raise TraceError(f"{source}: no rows; a trace needs at least one period of data")
    stamps = [t for t, _, _ in data]
    for i, (before, after) in enumerate(itertools.pairwise(stamps), start=1):
        if after <= before:
            raise TraceError(
                f"{source}: row {i + 1} ({after}) is not later than the row before it: sort the rows by time"
            )
    step = period or period_of(stamps, source)
    per = step // 60
    t0 = stamps[0] // 60 * 60
    last = (stamps[-1] - t0) // 60 + per
    if last > MAX_TRACE_MINUTES:
        raise TraceError(f"{source}: spans {last:,} minutes; at most {MAX_TRACE_MINUTES:,} (two years) are simulated")
    out_b = [0.0] * last
    out_r = [0.0] * last
    for t, b, r in data:
        i = (t - t0) // 60
        sb, sr = b / per, r / per
        for k in range(i, min(i + per, last)):
            out_b[k] += sb
            out_r[k] += sr
    return Trace(name, t0, out_b, out_r, step)


def _exact(value: float) -> str:
    """A Sum as text that reads back as the same float: whole numbers without a decimal point, others as repr
    (the shortest text that round-trips). Rounding here would make a saved trace simulate differently."""
    value = float(value)  # a hand-built Trace may hold ints
    return f"{value:.0f}" if value.is_integer() else repr(value)


def write_csv(trace: Trace, path: str | Path, *, period_seconds: int = 60) -> None:
    """Write a trace back as CSV Sums of `period_seconds` (backtest's --save-trace).

    With the default 60 s, `load_csv` reads back the same trace (start, minutes, every minute's bytes and records,
    to the bit), so `simulate --trace FILE` gives the rows the backtest gave. That needs every row written, quiet
    minutes too: a minute left out at either end would move the trace's start or end, and gaps could make
    `period_of` take the spacing for a longer period (writes every other minute would read as 2-minute Sums)."""
    per = max(1, period_seconds // 60)
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for i in range(0, trace.minutes, per):
            b = sum(trace.bytes[i : i + per])
            r = sum(trace.records[i : i + per])
            stamp = datetime.fromtimestamp(trace.start + 60 * i, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            w.writerow((stamp, _exact(b), _exact(r)))


def from_periods(name: str, rows: Iterable[tuple[int, int, float, float]], *, source: str) -> Trace:
    """Build a per-minute trace from (epoch_start, period_seconds, bytes Sum, records Sum) rows whose periods may
    differ (CloudWatch history: 5-minute Sums beyond 15 days, 1-minute Sums after). Each row is spread evenly over
    its minutes (a 300 s row of 5,000 bytes is 1,000 bytes in each of its 5 minutes); minutes no row covers stay zero
    (no datapoint = no writes); rows that cover the same minute add up. Rows may come in any order: the trace starts
    at the earliest row's start, floored to the minute, and ends with the minute the latest-ending row ends in.
    source_period_seconds is the smallest period used."""
    data = sorted(rows, key=lambda row: row[0])
    if not data:
        raise TraceError(f"{source}: no rows; a trace needs at least one period of data")
    for t, period, _, _ in data:
        if period < 60 or period % 60:
            raise TraceError(f"{source}: the row at {t} has a {period} s period; it must be a whole number of minutes")
    t0 = data[0][0] // 60 * 60
    last = max((t - t0) // 60 + period // 60 for t, period, _, _ in data)
    if last > MAX_TRACE_MINUTES:
        raise TraceError(f"{source}: spans {last:,} minutes; at most {MAX_TRACE_MINUTES:,} (two years) are simulated")
    out_b = [0.0] * last
    out_r = [0.0] * last
    for t, period, b, r in data:
        per = period // 60
        i = (t - t0) // 60
        sb, sr = b / per, r / per
        for k in range(i, i + per):
            out_b[k] += sb
            out_r[k] += sr
    return Trace(name, t0, out_b, out_r, min(period for _, period, _, _ in data))


def from_history(history: History) -> Trace:
    """The trace of a stream's CloudWatch history (adapters/aws/history.py)."""
    return from_periods(history.stream, history.rows, source=history.source)
