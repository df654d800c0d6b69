"""The read side in the simulator: polling consumers reading every record written, served by the stream's shared
read capacity, and the GetRecords metrics CloudWatch would publish for them (docs/read-side-facts.md; the model and
its approximations are in docs/simulator.md, "Reads").

The model, one minute at a time (`ReadRun.step`, called in minute order):
- `consumers` polling consumers (Lambda event source mappings, KCL apps, Firehose) each read every record the
  stream accepted. Each keeps its own position; what it has not read yet is its `pending` backlog, and each minute it
  asks for all of it (a consumer behind keeps calling), at most 5× the stream's read capacity: one GetRecords call a
  second per shard [LL], at most 10 MiB a call [GR], against a shard's 2 MiB/s.
- The lagging consumer (one of them) makes no call during a pause: its backlog grows by what is written; afterwards
  it asks for the backlog "as fast as the shard allows".
- Capacity: `read_shards` × 2 MiB/s × 60 (open shards in provisioned mode; on-demand: twice its write capacity).
  Served = min(asked, capacity), shared max-min fairly: a consumer that asks less than an equal share gets all it
  asks, the rest is split among the others (each successful call returns everything available up to 10 MiB, so a
  consumer that keeps up needs few calls to succeed; the catching-up one takes the spare). Reads are taken to spread
  over the shards as capacity does (no per-shard hot spot for reads).
- What is refused stays pending (a throttled GetRecords returns nothing; the consumer asks again next minute).
- Throttled share of bytes: each byte a consumer reads is counted once, when first asked for; it is "throttled" if
  that first ask was refused (reads are in order, so a consumer's refused part is the newest of what it asked). So
  the figure is the share of bytes the readers got late because of throttling, not the bytes asked again and again.
- Iterator age: each consumer's position is a byte offset into the stream's accepted writes; the age is the time
  since the byte at that position was written (writes spread evenly over each minute), i.e. the backlog expressed in
  seconds of the writes behind it. Published as CloudWatch's Maximum over the consumers that polled in the minute,
  each at its worst point (the minute's start before reading, or its end after); a paused consumer makes no call and
  so adds no datapoint until it resumes (as a stopped KCL worker or a disabled event source mapping).
- Calls: each polling consumer calls each shard once a second (consumers × shards × 60 a minute). Refused calls:
  the refused share of the bytes asked, and at least those beyond 5 calls/s per shard [GR][Q].
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from autoscaler.core.limits import SHARD_READ_BYTES_PER_S, SHARD_READ_CALLS_PER_S
from autoscaler.simulator.trace import Trace

SHARD_READ_BYTES_PER_MINUTE = SHARD_READ_BYTES_PER_S * 60  # 125,829,120: one shard's shared reads in a minute
MAX_GET_RECORDS_BYTES = 10 * 1_048_576  # GetRecords returns at most 10 MiB a call
POLLS_PER_SECOND = 1  # a consumer polls each shard once a second (KCL's and Lambda's base rate)
# the most one consumer can ask for in a minute, as a multiple of the stream's read capacity: 1 call/s × 10 MiB
# against 2 MiB/s per shard = 5
ASK_LIMIT = POLLS_PER_SECOND * MAX_GET_RECORDS_BYTES / SHARD_READ_BYTES_PER_S
CALLS_PER_SHARD_MINUTE = SHARD_READ_CALLS_PER_S * 60  # 300 GetRecords calls a shard accepts in a minute
EPSILON_BYTES = 1e-6  # a backlog below a millionth of a byte is float noise: caught up


class Pause(NamedTuple):
    """The lagging consumer stops polling for `minutes` from minute `start` of the trace, then catches up."""

    start: int
    minutes: int

    @property
    def end(self) -> int:
        return self.start + self.minutes


class ReadModel(NamedTuple):
    """Who reads the stream: `consumers` polling consumers each reading every record written; with `pauses`, one of
    them stops for each pause and then reads its backlog as fast as the shards allow."""

    consumers: int
    pauses: tuple[Pause, ...] = ()

    def validate(self, minutes: int | None = None) -> None:
        """Raises ValueError saying what to fix; `minutes`: the trace's length, when known."""
        if not 1 <= self.consumers <= 50:
            raise ValueError(f"read consumers must be within 1..50 (got {self.consumers})")
        for p in self.pauses:
            if p.start < 0 or p.minutes < 1:
                raise ValueError(
                    f"a lagging consumer's pause needs START ≥ 0 and MINUTES ≥ 1 (got {p.start}:{p.minutes})"
                )
            if minutes is not None and p.start >= minutes:
                raise ValueError(
                    f"the lagging consumer's pause starts at minute {p.start}, after the trace's {minutes:,} minutes"
                )

    def describe(self) -> str:
        text = f"{self.consumers} polling consumer{'s' if self.consumers != 1 else ''} each reading every record"
        if self.pauses:
            spans = ", ".join(f"minute {p.start:,} for {p.minutes:,} min" for p in self.pauses)
            text += f"; one stops ({spans}) and then reads its backlog as fast as the shards allow"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "consumers": self.consumers,
            "lagging_consumer": [{"start_minute": p.start, "minutes": p.minutes} for p in self.pauses],
        }


class ReadMinute(NamedTuple):
    """One minute of the stream-level GetRecords metrics (what CloudWatch publishes)."""

    bytes_read: float  # GetRecords.Bytes, Sum
    calls: float  # GetRecords.Success, Sum
    throttled_calls: float  # ReadProvisionedThroughputExceeded, Sum
    iterator_age_ms: float | None  # GetRecords.IteratorAgeMilliseconds, Maximum; None: no consumer polled
    asked: float  # bytes the consumers asked for (their backlogs included)


def share_out(asks: Sequence[float], capacity: float) -> list[float]:
    """Max-min fair shares of `capacity` among `asks`: the smallest asks are met in full, the rest is split evenly.

    e.g. asks 10, 10 and 100 with capacity 60: 10 and 10 met, the third gets the remaining 40."""
    if sum(asks) <= capacity:
        return list(asks)  # exactly: float noise must not read as a refused call
    order = sorted(range(len(asks)), key=asks.__getitem__)
    out = [0.0] * len(asks)
    left = capacity
    for k, i in enumerate(order):
        give = min(asks[i], left / (len(order) - k))
        out[i] = give
        left -= give
    return out


class _Consumer:
    __slots__ = ("asked_before", "pending")

    def __init__(self) -> None:
        self.pending = 0.0  # accepted bytes it has not read yet
        self.asked_before = 0.0  # the oldest part of `pending` that it asked for and was refused


class ReadRun:
    """The read side of one policy's run over one trace: each minute's served reads, refusals and iterator age."""

    def __init__(self, model: ReadModel, minutes: int) -> None:
        self.model = model
        self.minutes = minutes
        self.consumers = [_Consumer() for _ in range(model.consumers)]
        paused = bytearray(minutes)
        for p in model.pauses:
            paused[max(0, p.start) : min(minutes, p.end)] = b"\x01" * (min(minutes, p.end) - max(0, p.start))
        self.paused = paused  # minutes the lagging consumer (the last one) makes no call
        self.written = [0.0]  # cumulative accepted bytes at the end of each minute (written[m + 1]: minute m's end)
        self.asked = array("d", bytes(8 * minutes))  # bytes asked each minute, backlogs included
        self.served = array("d", bytes(8 * minutes))
        self.late = array("d", bytes(8 * minutes))  # bytes whose first ask was refused in that minute
        self.ages_ms = array("d", [math.nan]) * minutes  # the published iterator age (NaN: no datapoint)
        self.lagging_ages_ms = array("d", bytes(8 * minutes))  # the lagging consumer's age at each minute's end
        self.calls = 0.0
        self.throttled_calls = 0.0
        self.first_asked = 0.0  # every byte once: what the consumers have asked for so far

    def _written_at(self, position: float) -> float:
        """Seconds from the trace's start to when the stream's accepted writes reached `position` bytes (a minute's
        writes spread evenly over it)."""
        w = self.written
        i = bisect.bisect_left(w, position)
        if i == 0:
            return 0.0
        if i >= len(w):
            return 60.0 * (len(w) - 1)
        lo, hi = w[i - 1], w[i]
        return 60.0 * (i - 1 + (position - lo) / (hi - lo))

    def _age(self, at_seconds: float, total: float, pending: float) -> float:
        """A consumer's iterator age in seconds at `at_seconds` (from the trace's start), `pending` bytes behind the
        `total` accepted by then: 0 when caught up."""
        if pending <= EPSILON_BYTES:
            return 0.0
        return max(0.0, at_seconds - self._written_at(total - pending))

    def step(self, minute: int, accepted_bytes: float, read_shards: float, shards: int) -> ReadMinute:
        """Serve one minute: `accepted_bytes` written, `read_shards` shards' worth of shared read capacity (on-demand:
        twice its write capacity in shard-equivalents), `shards` open shards polled."""
        before = self.written[-1]
        total = before + accepted_bytes
        self.written.append(total)
        capacity = read_shards * SHARD_READ_BYTES_PER_MINUTE
        limit = ASK_LIMIT * capacity
        lagging = len(self.consumers) - 1
        active: list[tuple[_Consumer, float]] = []  # (consumer, its backlog at the minute's start)
        for i, c in enumerate(self.consumers):
            start_pending = c.pending
            c.pending += accepted_bytes
            if i == lagging and self.paused[minute]:
                continue  # no call: its backlog grows unseen
            active.append((c, start_pending))
        if not active:
            return ReadMinute(0.0, 0.0, 0.0, None, 0.0)
        asks = [min(c.pending, limit) for c, _ in active]
        served = share_out(asks, capacity)
        asked_total = sum(asks)
        served_total = sum(served)
        late = 0.0
        worst = 0.0
        t_begin, t_end = 60.0 * minute, 60.0 * (minute + 1)
        lag = self.consumers[lagging]
        for (c, start_pending), ask, got in zip(active, asks, served, strict=True):
            before_part = min(c.asked_before, ask)  # reads go in order: the part asked before is the oldest
            refused = ask - got
            late += refused - max(0.0, before_part - got)  # refused bytes asked for the first time now
            self.first_asked += ask - before_part
            c.asked_before = refused + max(0.0, c.asked_before - ask)
            worst = max(worst, self._age(t_begin, before, start_pending))
            c.pending -= got
            if c.pending <= EPSILON_BYTES:
                c.pending = c.asked_before = 0.0
            worst = max(worst, self._age(t_end, total, c.pending))
        self.lagging_ages_ms[minute] = self._age(t_end, total, lag.pending) * 1000.0
        polled = max(1, shards)
        calls = len(active) * polled * 60 * POLLS_PER_SECOND
        refused_share = (asked_total - served_total) / asked_total if asked_total > 0 else 0.0
        throttled = max(calls * refused_share, calls - polled * CALLS_PER_SHARD_MINUTE, 0.0)
        self.asked[minute] = asked_total
        self.served[minute] = served_total
        self.late[minute] = late
        self.ages_ms[minute] = worst * 1000.0
        self.calls += calls
        self.throttled_calls += throttled
        return ReadMinute(served_total, calls - throttled, throttled, worst * 1000.0, asked_total)

    # -- the figures ----------------------------------------------------------------------------------------------

    def catch_up_minutes(self, bound_seconds: float) -> int | None:
        """The longest a pause's lagging consumer took, from the minute it resumed, to be back within
        `bound_seconds` of the newest record (minutes, counting the one it ended in); None: no pause in the trace,
        or one never caught up by the trace's end."""
        bound_ms = bound_seconds * 1000.0
        worst: int | None = None
        for p in self.model.pauses:
            if p.end >= self.minutes:
                continue  # resumes after the trace
            back = next((m for m in range(p.end, self.minutes) if self.lagging_ages_ms[m] <= bound_ms), None)
            if back is None:
                return None
            worst = max(worst or 0, back - p.end + 1)
        return worst

    def figures(self, bound_seconds: float) -> dict[str, Any]:
        """The JSON fields of a policy's reads; `bound_seconds`: the stream's max_iterator_age_seconds."""
        ages = [a for a in self.ages_ms if not math.isnan(a)]
        return {
            "read_throttled_bytes_fraction": sum(self.late) / self.first_asked if self.first_asked > 0 else 0.0,
            "read_throttled_calls_fraction": self.throttled_calls / self.calls if self.calls > 0 else 0.0,
            "read_throttled_minutes": sum(1 for v in self.late if v > 0),
            "max_iterator_age_seconds": max(ages, default=0.0) / 1000.0,
            "minutes_readers_behind": sum(1 for a in ages if a > bound_seconds * 1000.0),
            "read_catch_up_minutes": self.catch_up_minutes(bound_seconds),
        }


class Served(Protocol):
    """What the reads need of a policy's run: its ledger (simulator/ledger.py Ledger; the ledger imports this module,
    so it is named by its shape)."""

    @property
    def trace(self) -> Trace: ...

    @property
    def shards(self) -> Sequence[int]:  # open shards each minute (0: an on-demand minute)
        ...

    @property
    def capacity(self) -> Sequence[float]:  # shard-equivalents of write capacity each minute
        ...

    @property
    def refused_bytes(self) -> Sequence[float]: ...


READ_FIELDS = (
    "read_throttled_bytes_fraction",
    "read_throttled_calls_fraction",
    "read_throttled_minutes",
    "max_iterator_age_seconds",
    "minutes_readers_behind",
    "read_catch_up_minutes",
)


def no_read_figures() -> dict[str, Any]:
    """The read fields of a run without a read model: present, null."""
    return dict.fromkeys(READ_FIELDS)


def read_shards_of(ledger: Served, minute: int) -> tuple[float, int]:
    """(read capacity in shards, shards polled) of a ledger's minute: its open shards in a provisioned minute; in an
    on-demand minute twice its write capacity (AWS: read capacity grows with writes, about 2× them, never for reads),
    which at 2 MiB/s a shard is its write capacity in shard-equivalents."""
    shards = ledger.shards[minute]
    if shards > 0:
        return float(shards), shards
    capacity = ledger.capacity[minute]
    return capacity, max(1, math.ceil(capacity - 1e-9))


def reads_of(model: ReadModel, ledger: Served) -> ReadRun:
    """The reads of a run whose capacity does not depend on them (a baseline, or a run already made): each minute's
    accepted writes read on the capacity the ledger had in place."""
    trace = ledger.trace
    run = ReadRun(model, trace.minutes)
    refused = ledger.refused_bytes
    for m in range(trace.minutes):
        read_shards, shards = read_shards_of(ledger, m)
        run.step(m, trace.bytes[m] - refused[m], read_shards, shards)
    return run


def read_loads(model: ReadModel, written: Sequence[float]) -> list[float]:
    """Each minute's read demand in shards (2 MiB/s each) when nothing is ever refused: what the oracle provisions.
    `written`: bytes accepted each minute. The lagging consumer's whole backlog counts in the minute it resumes."""
    run = ReadRun(model, len(written))
    out = []
    for m, b in enumerate(written):
        got = run.step(m, b, math.inf, 1)
        out.append(got.asked / SHARD_READ_BYTES_PER_MINUTE)
    return out
