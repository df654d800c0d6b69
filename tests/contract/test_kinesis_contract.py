"""KinesisPort contract: the same cases on FakeKinesis and on KinesisAdapter over moto and over kinesis-mock.

kinesis-mock models what moto does not: UPDATING after each reshard (ResourceInUseException meanwhile), so
wait_until_active's timeout, and UpdateShardCount's [½×, 2×] rule. What neither models (the 10-per-24-h quota;
moto: merging a CLOSED shard, kinesis-mock: its error code) is marked only_on(...) with the reason, and the adapter's
side of it — AWS's documented reply mapped to the same project exception the double raises — is proven on
botocore's Stubber at the end of this file. kinesis-mock lays shards out a few hash keys away from AWS's
boundaries: the exact boundaries are checked where they are AWS's, evenness everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from autoscaler.adapters.aws.kinesis import KinesisAdapter
from autoscaler.adapters.fakes.clock import SimClock
from autoscaler.app.ports import KinesisPort
from autoscaler.core.errors import InvalidRequest, StreamBusy, StreamNotFound, UpdateShardCountLimit
from autoscaler.core.limits import MAX_HASH_KEY
from autoscaler.core.model import Shard, StreamMode
from autoscaler.core.scale_up import tiles_key_space
from tests.contract.impls import KinesisHarness, only_on

pytestmark = [pytest.mark.integration, pytest.mark.contract]

HALF = (MAX_HASH_KEY + 1) // 2  # 2^127: where a 2-shard stream's second shard starts
QUARTER = (MAX_HASH_KEY + 1) // 4
NO_UPDATING = "moto never goes UPDATING (a second reshard right away succeeds; AWS: ResourceInUseException)"
NO_HALF_DOUBLE = "moto enforces no UpdateShardCount limit (AWS: target within [½×, 2×])"
NO_QUOTA = (
    "neither moto nor kinesis-mock counts UpdateShardCount calls (AWS: 10 per 24 h; the lock item counts ours, and "
    "the adapter's mapping of the refusal is on Stubber)"
)
KM_LAYOUT = (
    "kinesis-mock starts shard i at i × ⌊(2^128 − 1) / n⌋, up to n − 1 keys before AWS's ⌊i × 2^128 / n⌋ "
    "(evenness is checked on it; the product never relies on exact boundaries)"
)
KM_CLOSED = (
    "kinesis-mock refuses a CLOSED shard with ResourceInUseException ('is not active'), which the adapter reads as "
    "StreamBusy (AWS: InvalidArgumentException, 'already merged or split', on Stubber below)"
)


@pytest.fixture
def kinesis(kinesis_impl: KinesisHarness) -> KinesisHarness:
    kinesis_impl.create("orders", 4, StreamMode.PROVISIONED)
    return kinesis_impl


def settle(port: KinesisPort) -> None:
    """Between two reshards a caller waits for ACTIVE, as the service does (AWS: one reshard at a time)."""
    port.wait_until_active("orders", 600)


def ranges(shards: list[Shard]) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in shards]


def aws_layout(count: int) -> list[tuple[int, int]]:
    """CreateStream's and UNIFORM_SCALING's layout on AWS: shard i starts at ⌊i × 2^128 / count⌋
    (planner.uniform_shards)."""
    bounds = [(MAX_HASH_KEY + 1) * i // count for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(count)]


def assert_even(shards: list[Shard], count: int) -> None:
    """`count` open shards, sorted, tiling the key space, each within `count` keys of 2^128 / count wide."""
    assert len(shards) == count
    assert ranges(shards) == sorted(ranges(shards)) and tiles_key_space(shards)
    ideal = (MAX_HASH_KEY + 1) // count
    widths = [s.width for s in shards]
    assert all(abs(w - ideal) <= count for w in widths), [round(w / ideal, 3) for w in widths]


# -- reads ----------------------------------------------------------------------------------------------------------


def test_describe_a_new_stream(kinesis: KinesisHarness) -> None:
    d = kinesis.port.describe("orders")
    assert (d.name, d.status, d.mode, d.shard_level_metrics) == (
        "orders",
        "ACTIVE",
        StreamMode.PROVISIONED,
        frozenset(),
    )
    assert d.arn  # the adapters read it for doctor; any non-empty value will do


def test_describe_reads_the_enabled_shard_level_metrics(kinesis: KinesisHarness) -> None:
    kinesis.enable_shard_metrics("orders", ["IncomingBytes", "IncomingRecords"])
    assert kinesis.port.describe("orders").shard_level_metrics == {"IncomingBytes", "IncomingRecords"}


def test_describe_all_lists_every_stream_with_status_and_mode(kinesis: KinesisHarness) -> None:
    kinesis.create("clicks", 1, StreamMode.ON_DEMAND)
    found = kinesis.port.describe_all()
    assert {n: (d.status, d.mode) for n, d in found.items()} == {
        "orders": ("ACTIVE", StreamMode.PROVISIONED),
        "clicks": ("ACTIVE", StreamMode.ON_DEMAND),
    }


@only_on(
    "fake",
    "moto",
    reason="kinesis-mock's ListStreams has no StreamSummaries, so the adapter describes each stream and passes on "
    "its shard-level metrics (docs/emulators.md); nothing reads them from describe_all",
)
def test_describe_all_carries_no_shard_level_metrics(kinesis: KinesisHarness) -> None:
    kinesis.enable_shard_metrics("orders", ["IncomingBytes"])
    # ListStreams' summaries carry no EnhancedMonitoring: "shard-level metrics not included"
    assert kinesis.port.describe_all()["orders"].shard_level_metrics == frozenset()


def test_list_open_shards_of_a_new_stream_tiles_the_key_space_evenly(kinesis: KinesisHarness) -> None:
    shards = kinesis.port.list_open_shards("orders")
    assert_even(shards, 4)  # 4 shards of about 2^128 / 4 = 2^126 keys each, sorted by starting hash key
    assert len({s.shard_id for s in shards}) == 4


@only_on("fake", "moto", reason=KM_LAYOUT)
def test_a_new_stream_has_the_aws_layout(kinesis: KinesisHarness) -> None:
    assert ranges(kinesis.port.list_open_shards("orders")) == aws_layout(4)
    assert aws_layout(4)[1] == (QUARTER, HALF - 1)  # 2^126 keys each


# -- split and merge ------------------------------------------------------------------------------------------------


def test_split_replaces_the_parent_by_two_children_at_the_key(kinesis: KinesisHarness) -> None:
    port = kinesis.port
    parent = port.list_open_shards("orders")[1]  # [2^126, 2^127 − 1]
    key = parent.start + parent.width // 4  # a quarter of the way in: the children are 1/4 and 3/4 of the parent
    port.split_shard("orders", parent.shard_id, key)
    settle(port)
    after = port.list_open_shards("orders")
    assert len(after) == 4 - 1 + 2
    assert parent.shard_id not in {s.shard_id for s in after}  # CLOSED parent dropped
    assert (parent.start, key - 1) in ranges(after) and (key, parent.end) in ranges(after)
    assert ranges(after) == sorted(ranges(after)) and tiles_key_space(after)


def test_merge_replaces_two_adjacent_shards_by_their_union(kinesis: KinesisHarness) -> None:
    port = kinesis.port
    s0, s1, *_ = port.list_open_shards("orders")
    port.merge_shards("orders", s0.shard_id, s1.shard_id)
    settle(port)
    after = port.list_open_shards("orders")
    assert len(after) == 4 + 1 - 2
    assert ranges(after)[0] == (s0.start, s1.end)  # about [0, 2^126 − 1] ∪ [2^126, 2^127 − 1]
    assert not {s0.shard_id, s1.shard_id} & {s.shard_id for s in after}
    assert tiles_key_space(after)


def test_split_then_merge_back_leaves_only_open_shards_tiling_the_key_space(kinesis: KinesisHarness) -> None:
    port = kinesis.port
    before = port.list_open_shards("orders")
    parent = before[0]
    port.split_shard("orders", parent.shard_id, parent.start + parent.width // 2)
    settle(port)
    low, high = port.list_open_shards("orders")[:2]
    port.merge_shards("orders", low.shard_id, high.shard_id)
    settle(port)
    after = port.list_open_shards("orders")
    # 4 → 5 → 4 open shards; the three CLOSED ones (parent, two children) are not listed
    assert ranges(after) == ranges(before)
    assert not {parent.shard_id, low.shard_id, high.shard_id} & {s.shard_id for s in after}


def test_merge_of_non_adjacent_shards_is_an_invalid_request(kinesis: KinesisHarness) -> None:
    s0, _, s2, _ = kinesis.port.list_open_shards("orders")
    with pytest.raises(InvalidRequest):
        kinesis.port.merge_shards("orders", s0.shard_id, s2.shard_id)  # [0, 2^126) and [2^127, 3·2^126): a gap
    assert len(kinesis.port.list_open_shards("orders")) == 4


def test_split_at_a_key_outside_the_parent_is_an_invalid_request(kinesis: KinesisHarness) -> None:
    s0 = kinesis.port.list_open_shards("orders")[0]
    with pytest.raises(InvalidRequest):
        kinesis.port.split_shard("orders", s0.shard_id, s0.end + 1)  # the next shard's first key
    assert len(kinesis.port.list_open_shards("orders")) == 4


@only_on("fake", "moto", reason=KM_CLOSED)
def test_split_of_a_closed_shard_is_an_invalid_request(kinesis: KinesisHarness) -> None:
    port = kinesis.port
    parent = port.list_open_shards("orders")[0]
    port.split_shard("orders", parent.shard_id, parent.start + parent.width // 2)
    settle(port)
    with pytest.raises(InvalidRequest):
        port.split_shard("orders", parent.shard_id, parent.start + parent.width // 4)


@only_on(
    "fake",
    reason={
        "moto": "moto merges a CLOSED shard (AWS: InvalidArgumentException, 'already merged or split')",
        "kinesis-mock": KM_CLOSED,
    },
)
def test_merge_of_a_closed_shard_is_an_invalid_request(kinesis: KinesisHarness) -> None:
    port = kinesis.port
    s0, s1, *_ = port.list_open_shards("orders")
    port.split_shard("orders", s0.shard_id, s0.start + s0.width // 2)
    settle(port)
    with pytest.raises(InvalidRequest):
        port.merge_shards("orders", s0.shard_id, s1.shard_id)  # s0 is CLOSED now, though its range still abuts s1


# -- UpdateShardCount -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "why"), [(8, "2× of 4"), (6, "1.5× of 4"), (2, "½× of 4"), (3, "¾× of 4")])
def test_update_shard_count_leaves_target_open_shards_tiling_the_key_space(
    kinesis: KinesisHarness, target: int, why: str
) -> None:
    kinesis.port.update_shard_count("orders", target)
    settle(kinesis.port)
    after = kinesis.port.list_open_shards("orders")
    assert len(after) == target, why
    assert tiles_key_space(after)


UNEVEN = (
    "moto's and kinesis-mock's UpdateShardCount leave uneven ranges unless they only halve or double (4 → 6: "
    "widths ¾, ¾, ¾, ¾, 1½, 1½ of even; AWS: UNIFORM_SCALING)"
)


@pytest.mark.parametrize(
    "target",
    [
        8,
        2,
        pytest.param(6, marks=only_on("fake", reason=UNEVEN)),
        pytest.param(3, marks=only_on("fake", reason=UNEVEN)),
    ],
)
def test_update_shard_count_scales_uniformly(kinesis: KinesisHarness, target: int) -> None:
    kinesis.port.update_shard_count("orders", target)
    settle(kinesis.port)
    assert_even(kinesis.port.list_open_shards("orders"), target)


@only_on("fake", "moto", reason=KM_LAYOUT)
@pytest.mark.parametrize("target", [8, 2])
def test_update_shard_count_lands_on_the_aws_layout(kinesis: KinesisHarness, target: int) -> None:
    kinesis.port.update_shard_count("orders", target)
    settle(kinesis.port)
    # UNIFORM_SCALING: shard i starts at ⌊i × 2^128 / target⌋ (CreateStream's layout, planner.uniform_shards)
    assert ranges(kinesis.port.list_open_shards("orders")) == aws_layout(target)


@only_on("fake", "kinesis-mock", reason=NO_HALF_DOUBLE)
@pytest.mark.parametrize(("target", "why"), [(9, "above 2 × 4 = 8"), (1, "below ⌈4 / 2⌉ = 2")])
def test_update_shard_count_outside_half_to_double_is_refused(kinesis: KinesisHarness, target: int, why: str) -> None:
    with pytest.raises(UpdateShardCountLimit):
        kinesis.port.update_shard_count("orders", target)
    assert len(kinesis.port.list_open_shards("orders")) == 4, why


@only_on("fake", reason=NO_QUOTA)
def test_the_eleventh_update_shard_count_in_24_hours_is_refused(kinesis: KinesisHarness) -> None:
    port = kinesis.port
    for target in [8, 4] * 5:  # 10 calls, alternating 4 → 8 → 4: each within [½×, 2×]
        port.update_shard_count("orders", target)
        settle(port)
    with pytest.raises(UpdateShardCountLimit):
        port.update_shard_count("orders", 8)


# -- UPDATING -------------------------------------------------------------------------------------------------------


def reshards(port: KinesisPort) -> dict[str, Callable[[], None]]:
    s0, s1, *_ = port.list_open_shards("orders")
    return {
        "split": lambda: port.split_shard("orders", s0.shard_id, s0.start + s0.width // 2),
        "merge": lambda: port.merge_shards("orders", s0.shard_id, s1.shard_id),
        "update_shard_count": lambda: port.update_shard_count("orders", 8),
    }


@only_on("fake", "kinesis-mock", reason=NO_UPDATING)
@pytest.mark.parametrize("second", ["split", "merge", "update_shard_count"])
def test_a_reshard_while_updating_is_stream_busy(kinesis: KinesisHarness, second: str) -> None:
    port = kinesis.port
    s0 = port.list_open_shards("orders")[3]  # the split below leaves shards 0 and 1 alone for the merge
    port.split_shard("orders", s0.shard_id, s0.start + s0.width // 2)
    assert port.describe("orders").status == "UPDATING"
    with pytest.raises(StreamBusy):
        reshards(port)[second]()
    settle(port)
    assert port.describe("orders").status == "ACTIVE"
    reshards(port)[second]()  # accepted once ACTIVE again


def test_wait_until_active_returns_for_an_active_stream(kinesis: KinesisHarness) -> None:
    kinesis.port.wait_until_active("orders", 0)


@only_on("fake", "kinesis-mock", reason=NO_UPDATING)
def test_wait_until_active_raises_stream_busy_at_the_timeout(kinesis: KinesisHarness) -> None:
    port = kinesis.port
    s0 = port.list_open_shards("orders")[0]
    port.split_shard("orders", s0.shard_id, s0.start + s0.width // 2)
    with pytest.raises(StreamBusy):
        port.wait_until_active("orders", 1)  # a split takes longer than a second on every implementation that waits


# -- a missing stream -----------------------------------------------------------------------------------------------

EVERY_METHOD: dict[str, Callable[[KinesisPort], object]] = {
    "describe": lambda p: p.describe("gone"),
    "list_open_shards": lambda p: p.list_open_shards("gone"),
    "split_shard": lambda p: p.split_shard("gone", "shardId-000000000000", HALF),
    "merge_shards": lambda p: p.merge_shards("gone", "shardId-000000000000", "shardId-000000000001"),
    "update_shard_count": lambda p: p.update_shard_count("gone", 2),
    "wait_until_active": lambda p: p.wait_until_active("gone", 10),
}


@pytest.mark.parametrize("method", list(EVERY_METHOD))
def test_every_method_raises_stream_not_found_for_a_missing_stream(kinesis: KinesisHarness, method: str) -> None:
    with pytest.raises(StreamNotFound):
        EVERY_METHOD[method](kinesis.port)


# -- the adapter's side of the fake-only cases: AWS's documented replies, on Stubber --------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[KinesisAdapter, Stubber]]:
    c = botocore.session.get_session().create_client("kinesis", region_name="us-east-1")
    with Stubber(c) as stub:
        yield KinesisAdapter(c, SimClock(), attempts=1), stub
        stub.assert_no_pending_responses()


ROOMY_LIMITS = {"ShardLimit": 500, "OpenShardCount": 4, "OnDemandStreamCount": 0, "OnDemandStreamCountLimit": 50}
CALLS: dict[str, Callable[[KinesisAdapter], object]] = {
    "split_shard": lambda a: a.split_shard("orders", "shardId-000000000000", HALF),
    "merge_shards": lambda a: a.merge_shards("orders", "shardId-000000000000", "shardId-000000000001"),
    "update_shard_count": lambda a: a.update_shard_count("orders", 8),
}


@pytest.mark.parametrize("method", list(CALLS))
def test_adapter_maps_resource_in_use_to_stream_busy(stubbed: Any, method: str) -> None:
    adapter, stub = stubbed
    stub.add_client_error(method, "ResourceInUseException")  # AWS, while the stream is UPDATING
    with pytest.raises(StreamBusy):
        CALLS[method](adapter)


@pytest.mark.parametrize("code", ["LimitExceededException", "InvalidArgumentException"])
def test_adapter_maps_update_shard_count_refusals_to_the_limit(stubbed: Any, code: str) -> None:
    """The 11th call in 24 h: LimitExceededException with quota room; a target outside [½×, 2×]: the API reference
    lists InvalidArgumentException (and LimitExceeded for "the scaling request"): both fall back to splits."""
    adapter, stub = stubbed
    stub.add_client_error("update_shard_count", code)
    if code == "LimitExceededException":
        stub.add_response("describe_limits", ROOMY_LIMITS)  # 4 open + 8 ≤ 500: not the account quota
    with pytest.raises(UpdateShardCountLimit):
        CALLS["update_shard_count"](adapter)


def test_adapter_maps_a_closed_shard_to_an_invalid_request(stubbed: Any) -> None:
    adapter, stub = stubbed
    stub.add_client_error("merge_shards", "InvalidArgumentException")  # "has already been merged or split"
    with pytest.raises(InvalidRequest):
        CALLS["merge_shards"](adapter)


# -- capacity-mode switches (issue 13; docs/capacity-modes.md §4) ---------------------------------------------------

NO_MODE_LIMITS = (
    "moto and kinesis-mock model no UpdateStreamMode limit (AWS: twice per stream within 24 h, and the account's "
    "on-demand stream quota); the adapter's mapping of AWS's LimitExceededException is on Stubber below"
)
MOTO_FIXED_LIMITS = "moto's DescribeLimits is a constant (OnDemandStreamCount always 0)"


def test_a_mode_switch_keeps_the_shard_count_both_ways(kinesis: KinesisHarness) -> None:
    """AWS: "your data stream initially retains whatever shard count it had before the transition" (both ways)."""
    port = kinesis.port
    port.update_stream_mode("orders", StreamMode.ON_DEMAND)
    settle(port)
    assert port.describe("orders").mode is StreamMode.ON_DEMAND
    assert len(port.list_open_shards("orders")) == 4
    port.update_stream_mode("orders", StreamMode.PROVISIONED)
    settle(port)
    assert port.describe("orders").mode is StreamMode.PROVISIONED
    assert len(port.list_open_shards("orders")) == 4


def test_the_on_demand_quota_reads_as_count_and_limit(kinesis: KinesisHarness) -> None:
    count, limit = kinesis.port.on_demand_quota()
    assert isinstance(count, int) and isinstance(limit, int) and 0 <= count <= limit and limit >= 1


@only_on("fake", reason=NO_MODE_LIMITS)
def test_a_third_switch_within_24_h_is_refused_and_allowed_a_day_after_the_first(kinesis: KinesisHarness) -> None:
    from autoscaler.adapters.fakes.kinesis import FakeKinesis
    from autoscaler.core.errors import ModeSwitchRefused

    port = kinesis.port
    assert isinstance(port, FakeKinesis)
    first = port.clock.now()
    for mode in (StreamMode.ON_DEMAND, StreamMode.PROVISIONED):
        port.update_stream_mode("orders", mode)
        settle(port)
    with pytest.raises(ModeSwitchRefused):
        port.update_stream_mode("orders", StreamMode.ON_DEMAND)
    port.clock.advance(first + 86_400 - port.clock.now())  # the first switch leaves the rolling 24 h
    port.update_stream_mode("orders", StreamMode.ON_DEMAND)
    assert port.describe("orders").mode is StreamMode.ON_DEMAND


@only_on("fake", reason={"moto": MOTO_FIXED_LIMITS, "kinesis-mock": NO_MODE_LIMITS})
def test_a_switch_to_on_demand_is_refused_when_the_accounts_quota_is_full(kinesis: KinesisHarness) -> None:
    from autoscaler.adapters.fakes.kinesis import FakeKinesis
    from autoscaler.core.errors import ModeSwitchRefused

    port = kinesis.port
    assert isinstance(port, FakeKinesis)
    port.on_demand_stream_limit = 1
    kinesis.create("already-on-demand", 1, StreamMode.ON_DEMAND)
    assert port.on_demand_quota() == (1, 1)
    with pytest.raises(ModeSwitchRefused, match="quota"):
        port.update_stream_mode("orders", StreamMode.ON_DEMAND)
    assert port.describe("orders").mode is StreamMode.PROVISIONED


SUMMARY = {
    "StreamDescriptionSummary": {
        "StreamName": "orders",
        "StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": 24,
        "StreamCreationTimestamp": "2026-01-01T00:00:00Z",
        "EnhancedMonitoring": [],
        "OpenShardCount": 4,
    }
}


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("LimitExceededException", "ModeSwitchRefused"),  # two switches in 24 h, or the on-demand quota: final
        ("ResourceInUseException", "StreamBusy"),
        ("ResourceNotFoundException", "StreamNotFound"),
    ],
)
def test_adapter_switches_by_arn_and_maps_the_refusals(stubbed: Any, code: str, error: str) -> None:
    """UpdateStreamMode takes the ARN only (from DescribeStreamSummary); a LimitExceededException is never retried
    as a rate limit (one call only: the Stubber would fail on a second)."""
    import autoscaler.core.errors as errors

    adapter, stub = stubbed
    expected = {
        "StreamARN": SUMMARY["StreamDescriptionSummary"]["StreamARN"],
        "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
    }
    stub.add_response("describe_stream_summary", SUMMARY, {"StreamName": "orders"})
    stub.add_response("update_stream_mode", {}, expected)
    adapter.update_stream_mode("orders", StreamMode.ON_DEMAND)
    stub.add_response("describe_stream_summary", SUMMARY, {"StreamName": "orders"})
    stub.add_client_error("update_stream_mode", code, expected_params=expected)
    with pytest.raises(getattr(errors, error)):
        adapter.update_stream_mode("orders", StreamMode.ON_DEMAND)


@pytest.mark.parametrize("refusal", ["ValidationException", "LimitExceededException"])
def test_adapter_asks_for_warm_throughput_on_the_switch_and_switches_without_it_when_refused(
    stubbed: Any, refusal: str
) -> None:
    """WarmThroughputMiBps rides on UpdateStreamMode (to on-demand, Advantage only). Refused (no commitment, over the
    account's throughput limit, or an ambiguous LimitExceededException), the switch is asked for once more without
    it; a real refusal of the switch then repeats itself."""
    adapter, stub = stubbed
    arn = SUMMARY["StreamDescriptionSummary"]["StreamARN"]
    plain = {"StreamARN": arn, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}}
    stub.add_response("describe_stream_summary", SUMMARY, {"StreamName": "orders"})
    stub.add_response("update_stream_mode", {}, {**plain, "WarmThroughputMiBps": 38})
    assert adapter.update_stream_mode("orders", StreamMode.ON_DEMAND, 38) is True
    stub.add_response("describe_stream_summary", SUMMARY, {"StreamName": "orders"})
    stub.add_client_error("update_stream_mode", refusal, expected_params={**plain, "WarmThroughputMiBps": 38})
    stub.add_response("update_stream_mode", {}, plain)
    assert adapter.update_stream_mode("orders", StreamMode.ON_DEMAND, 38) is False
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("status", "pricing"),
    [
        ("ENABLED", "advantage"),
        ("ENABLED_UNTIL_EARLIEST_ALLOWED_END", "advantage"),  # a disable is pending; still billed as Advantage
        ("DISABLED", "standard"),
        (None, "standard"),  # no commitment ever: the field is absent
    ],
)
def test_adapter_reads_the_on_demand_pricing_from_the_account_settings(
    stubbed: Any, status: str | None, pricing: str
) -> None:
    adapter, stub = stubbed
    reply = {"MinimumThroughputBillingCommitment": {"Status": status}} if status else {}
    stub.add_response("describe_account_settings", reply, {})
    assert adapter.on_demand_pricing().value == pricing


def test_adapter_reads_the_on_demand_quota_from_describe_limits(stubbed: Any) -> None:
    adapter, stub = stubbed
    stub.add_response("describe_limits", {**ROOMY_LIMITS, "OnDemandStreamCount": 7})
    assert adapter.on_demand_quota() == (7, 50)
