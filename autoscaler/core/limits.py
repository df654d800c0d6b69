"""AWS's facts the code depends on, named once (../shared/aws-facts.md, with sources). Limits, not defaults: none of
these is a setting, and the defaults (defaults.py) are chosen within them."""

from __future__ import annotations

import re

# --- Kinesis provisioned mode
SHARD_WRITE_BYTES_PER_S = 1_048_576  # 1 MiB/s per shard write limit; partition keys count toward it.
SHARD_WRITE_RECORDS_PER_S = 1_000  # 1,000 records/s per shard write limit.
MAX_HASH_KEY = 2**128 - 1  # MD5 key space is 0 … 2^128−1; OPEN shards tile it exactly.
MAX_SHARDS_PER_STREAM = 10_000  # UpdateShardCount's per-stream ceiling; also our config ceiling.
UPDATE_SHARD_COUNT_CALLS_PER_24H = 10  # AWS default: at most 10 UpdateShardCount calls per rolling 24 h per stream.
STREAM_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")  # StreamName: 1–128 of a-z A-Z 0-9 _ . -

# --- CloudWatch: the stream-level metrics (namespace AWS/Kinesis, dimension StreamName, one datapoint a minute)
KINESIS_NAMESPACE = "AWS/Kinesis"
INCOMING_BYTES = "IncomingBytes"
INCOMING_RECORDS = "IncomingRecords"
WRITE_THROTTLED = "WriteProvisionedThroughputExceeded"
WRITE_METRICS = (INCOMING_BYTES, INCOMING_RECORDS)  # what write utilisation is computed from

# --- The read side (docs/read-side-facts.md, with sources). A shard serves 2 MiB/s and 5 GetRecords calls a second,
# shared by every polling consumer (Lambda event source mappings, KCL, Firehose); each enhanced fan-out consumer has
# its own 2 MiB/s per shard and does not count against these.
SHARD_READ_BYTES_PER_S = 2 * 1_048_576
SHARD_READ_CALLS_PER_S = 5
READ_BYTES = "GetRecords.Bytes"  # Bytes, Sum: bytes returned to all polling consumers
READ_CALLS = "GetRecords.Success"  # Count, Sum: successful GetRecords calls
READ_THROTTLED = "ReadProvisionedThroughputExceeded"  # Count, Sum: GetRecords calls refused
ITERATOR_AGE = "GetRecords.IteratorAgeMilliseconds"  # Milliseconds, Maximum: the oldest reader's lag
MILLIS_BEHIND = "SubscribeToShardEvent.MillisBehindLatest"  # Milliseconds, Maximum: enhanced fan-out lag
READ_METRICS = (READ_BYTES, READ_CALLS, READ_THROTTLED, ITERATOR_AGE)
# The statistic each metric is read and alarmed with: lags are the worst reader's (Maximum), the rest add up (Sum)
METRIC_STAT: dict[str, str] = {ITERATOR_AGE: "Maximum", MILLIS_BEHIND: "Maximum"}


def stat_of(metric: str) -> str:
    return METRIC_STAT.get(metric, "Sum")
