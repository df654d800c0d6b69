"""Every tunable default, named once, each with the reason it has this value.

The config models (config/) take their defaults from here; nothing else hard-codes these numbers. AWS's own limits
are not defaults: they live in limits.py.
"""

from __future__ import annotations

# --- Policy
SCALE_UP_THRESHOLD = 0.8  # alarm at 80% of write capacity: leaves ~1 min of headroom for a 25%/min ramp.
SCALE_DOWN_THRESHOLD = 0.5  # merge only when every datapoint sits below 50%: halving the count keeps it under 100%.
SCALE_DOWN_SAFETY_MARGIN = 0.1  # after merging, the lookback peak stays ≤ scale-up threshold − 0.1 too: no flapping.
HEADROOM = 2.0  # capacity kept = 2× the peak demand seen (scale-up sizing, scale-down target): README "Headroom".
# A scale-up sizes for where a rising load is going: the last alarm-period datapoint plus this many times its rise
# over the one before (core/capacity.py write_utilisation). Measured on all bench traces (docs/capacity-modes.md):
# 2 cut throttling on the bursty ones (crm 0.32% -> 0.10%, aapl 1.44% -> 0.97%) for 0.95x -> 0.98x of on-demand's
# cost provisioned alone, and auto's geometric mean 0.67x -> 0.66x; 5 over-bought (1.06x). 0 turns it off.
RISE_LOOKAHEAD_PERIODS = 2.0
MAX_HEADROOM = 10.0  # beyond 10× the peak, provisioned capacity costs more than on-demand for any traffic shape.
MAX_SCALE_UP_FACTOR = 16  # one action may grow a stream 16×: four UpdateShardCount doublings (~8 min).
SCALE_UP_LOOKBACK_MINUTES = 5  # the peak over the last 5 one-minute datapoints sizes a scale-up (covers alarm delay).
METRIC_DELAY_SECONDS = 180  # a throttle alarm's evidence is read over its window + 3 min (CloudWatch's delay ≈ 2 min).
SCALE_DOWN_LOOKBACK_HOURS = 24  # a full daily cycle must be quiet before capacity is removed.
SCALE_DOWN_PERIOD_SECONDS = 300  # the rule is stated on 5-minute datapoints: 288 of them in 24 h.
SCALE_DOWN_WINDOW_LAG_SECONDS = 600  # the window ends 10 min ago: CloudWatch's newest minutes may still be filling.
# The re-arm sweep's period (template.yaml AlarmSweepSchedule, "rate(5 minutes)"): the longest a stream stays in ALARM
# unattended after its lock lapses, before its alarm is re-armed and re-evaluated (app/sweeper.py).
ALARM_SWEEP_SECONDS = 300
# The fleet job runs every 6 h; a stream that scaled down waits its scale-down cooldown (30 h) before the next, or
# FAR_OVER_COOLDOWN_SECONDS after a scale-down of a stream far over its need: an ordinary stream shrinks every
# 30-36 h as before, a stream holding a burst's capacity halves every 6 h while quiet (docs/capacity-modes.md).
SCALE_DOWN_SCHEDULE = "rate(6 hours)"
# capacity_mode on-demand / auto streams are decided hourly (app/capacity_mode.py): the cadence simulator/auto.py
# measured (every 6 h: geomean 0.72× on-demand instead of 0.70×).
CAPACITY_MODE_SCHEDULE = "rate(1 hour)"
FALLBACK_SCALE_UP_FACTOR = 1.5  # metrics missing while alarmed: grow by 50% (≥ +1), one UpdateShardCount step.
SCALE_UP_COOLDOWN_SECONDS = 300  # 5 min: alarms need a few datapoints at the new capacity before they can judge it.
SCALE_DOWN_COOLDOWN_SECONDS = 30 * 3_600  # after a scale-down, until the next; never blocks scale-up.
# After a scale-down of a stream far over its need (core/scale_down.py far_over) the cooldown is this instead: under
# the 6 h schedule, so such a stream halves at every run while quiet, yet a retry or a second run at once does not.
FAR_OVER_COOLDOWN_SECONDS = 5 * 3_600

# --- Alarms
ALARM_PERIOD_SECONDS = 60  # Kinesis stream metrics are published once a minute; a 60 s Sum is the finest honest view.
ALARM_EVALUATION_PERIODS = 2  # two consecutive breaching minutes: one noisy minute does not buy shards.
ALARM_DATAPOINTS_TO_ALARM = 2  # with 2 evaluation periods: both must breach.
ALARM_NAME_PREFIX = (
    "kinesis-autoscaler"  # alarms are named <prefix>/<stream>/<kind>; the prefix scopes IAM and lookups.
)

# --- Onboarding (create-streams)
RETENTION_HOURS = 24  # Kinesis' own default; longer retention is billed per shard-hour.
ENCRYPT = True  # server-side encryption costs nothing with the AWS-managed key: on unless configured off.
KMS_KEY_ID = "alias/aws/kinesis"  # the AWS-managed key: no key policy to maintain.
CAPACITY_MODE = "provisioned"  # provisioned | on-demand | auto (core/capacity_mode.py): today's behaviour
# In an On-demand Advantage account, a switch to on-demand asks for warm throughput = the history's one-minute peak
# write rate: ready at once rather than learnt again, at no charge (docs/capacity-modes.md §6).
WARM_ON_SWITCH = True

# --- The read side (issue 15; off unless a stream says read_side: true)
READ_SIDE = False
READ_CONSUMERS = 1  # polling consumers sharing each shard's 2 MiB/s (Lambda, KCL, Firehose; not enhanced fan-out)
MAX_ITERATOR_AGE_SECONDS = 60  # readers this far behind block a scale-down; lag above it that keeps growing near
# the read limit scales up (a Lambda consumer runs ~1 s behind when keeping up)
SHARD_LEVEL_METRICS = False  # shard-level metrics are billed per shard; they only sharpen hot-shard splits.

# --- Operations
SPLIT_SECONDS_ESTIMATE = 30.0  # one SplitShard round trip to ACTIVE; undocumented, ~30 s observed (unverified).
USC_RESERVED_FOR_SCALE_UP = 4  # scale-down halves by UpdateShardCount only while 4 of the 10 daily calls stay free.
UPDATE_SHARD_COUNT_SECONDS_ESTIMATE = 90.0  # UpdateShardCount "could take a few minutes"; used only to compare paths.
LOCK_LEASE_MARGIN_SECONDS = 60  # the lock lease outlives the function timeout by this much: a crash cannot wedge it.
LOCK_ITEM_TTL_SECONDS = 7 * 24 * 3_600  # DynamoDB TTL removes lock items a week after their last write.
# Our UpdateStreamMode calls are remembered in the lock item this long: the 24 h switch budget and the week's dwell
# (core/capacity_mode.py) both look no further back. No longer than the item's TTL, which every write (the release
# after a switch included) pushes a week past itself: the item outlives the memory it holds.
MODE_SWITCH_MEMORY_SECONDS = LOCK_ITEM_TTL_SECONDS
CONTINUATION_SAFETY_SECONDS = 60  # hand over to a new invocation when less than this remains: room for one more call.
MAX_CONTINUATION_HOPS = 8  # Lambda drops self-invocation chains after ~16 hops; stop well before that.
MAX_SPLITS_PER_ACTION = 240  # (8 hops + 1) × 900 s / ~30 s a split ≈ 270: more splits could not finish in one chain.
WAIT_POLL_INITIAL_SECONDS = 2.0  # first poll for ACTIVE after a reshard call.
WAIT_POLL_MAX_SECONDS = 20.0  # AWS samples poll every 20 s; never sleep longer between polls.
