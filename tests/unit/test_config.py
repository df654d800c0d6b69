"""streams.yaml validation: every bad file gets the file, the line, the field and what to write instead."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from autoscaler.config import (
    DEFAULT_CONFIG_PATH,
    config_path_from_env,
    from_snapshot,
    load_config,
    parse_config,
    snapshot,
)
from autoscaler.core.errors import ConfigError

pytestmark = pytest.mark.unit

GOOD = """\
defaults:
  scale_up_threshold: 0.8
streams:
  - name: orders
    min_shards: 2
    max_shards: 64
    desired_shards: 4
  - name: clicks
    min_shards: 1
    max_shards: 8
    desired_shards: 1
    scale_up_cooldown_seconds: 600
"""


def one(extra: str = "", **fields: object) -> str:
    base: dict[str, object] = {"name": "orders", "min_shards": 2, "max_shards": 8, "desired_shards": 4, **fields}
    lines = "".join(f"    {k}: {v}\n" for k, v in base.items() if v is not None)
    return extra + "streams:\n  - " + lines.lstrip() + ""


BAD = [
    # (case, text, exact message)
    ("empty file", "", "s.yaml: the file is empty; add a `streams:` list"),
    (
        "not yaml",
        "streams: [\n",
        "s.yaml, line 2: not valid YAML (expected the node content, but found '<stream end>'); fix the syntax",
    ),
    ("top level list", "- 1\n", "s.yaml, line 1: the top level must be a mapping with a `streams:` list"),
    (
        "unknown top key",
        "stream:\n  - name: a\n",
        "s.yaml, line 1, stream: unknown top-level key 'stream'; allowed: alarm_name_prefix, defaults, streams",
    ),
    ("no streams", "streams: []\n", "s.yaml, line 1, streams: must be a non-empty list of streams (- name: …)"),
    (
        # max_shard is closest to max_shards (set too here: the guess comes with the list of keys)
        "unknown key",
        one(max_shard=3),
        "s.yaml, line 6, streams[0].max_shard: unknown key 'max_shard'; did you mean 'max_shards'? (allowed: "
        "alarm_datapoints_to_alarm, alarm_evaluation_periods, alarm_period_seconds, capacity_mode, desired_shards, "
        "enabled, "
        "encrypt, fallback_scale_up_factor, far_over_cooldown_seconds, headroom, kms_key_id, max_iterator_age_seconds, max_shards, min_shards, name, read_consumers, read_side, retention_hours, "
        "rise_lookahead_periods, "
        "scale_down_cooldown_seconds, scale_down_lookback_hours, scale_down_threshold, scale_up_cooldown_seconds, "
        "scale_up_lookback_minutes, scale_up_threshold, shard_level_metrics, warm_on_switch)",
    ),
    (
        "capacity mode spelt as the API does",
        one(capacity_mode="ON_DEMAND"),
        "s.yaml, line 6, streams[0].capacity_mode: capacity_mode 'ON_DEMAND' is not one of provisioned, on-demand, "
        "auto; write one of them",
    ),
    (
        "duplicate names",
        one() + "  - name: orders\n    min_shards: 1\n    max_shards: 2\n    desired_shards: 1\n",
        "s.yaml, line 6, streams[1].name: stream 'orders' is listed twice (first as streams[0]); keep one entry",
    ),
    (
        "duplicate key",
        "streams:\n  - name: a\n    name: b\n",
        "s.yaml, line 3: streams[0].name appears twice; keep one (YAML would silently use the last)",
    ),
    (
        "min above max",
        one(min_shards=9),
        "s.yaml, line 3, streams[0].min_shards: min_shards (9) is above max_shards (8); write min_shards ≤ 8 or max_shards ≥ 9",
    ),
    (
        "desired outside",
        one(desired_shards=20),
        "s.yaml, line 5, streams[0].desired_shards: desired_shards (20) is outside [min_shards, max_shards] = [2, 8]; "
        "write a desired_shards in that range",
    ),
    (
        "zero shards",
        one(min_shards=0),
        "s.yaml, line 3, streams[0].min_shards: Input should be greater than or equal to 1; write a value in [1, 10000]",
    ),
    (
        "negative",
        one(max_shards=-1),
        "s.yaml, line 4, streams[0].max_shards: Input should be greater than or equal to 1; write a value in [1, 10000]",
    ),
    (
        "too many",
        one(max_shards=10_001),
        "s.yaml, line 4, streams[0].max_shards: Input should be less than or equal to 10000; write a value in [1, 10000]",
    ),
    (
        "quoted count",
        one(min_shards='"2"'),
        "s.yaml, line 3, streams[0].min_shards: Input should be a valid integer; write a whole number, without quotes",
    ),
    (
        "float count",
        one(min_shards=2.5),
        "s.yaml, line 3, streams[0].min_shards: Input should be a valid integer; write a whole number, without quotes",
    ),
    (
        "missing field",
        one(desired_shards=None),
        "s.yaml, line 2, streams[0].desired_shards: desired_shards is required; add `desired_shards: <value>`",
    ),
    (
        # the misspelling explains the missing key: it is reported, at its own line, not "desired_shards is required"
        "misspelt required key",
        one(desired_shards=None, desired_shard=4),
        "s.yaml, line 5, streams[0].desired_shard: unknown key 'desired_shard'; did you mean 'desired_shards'?",
    ),
    (
        # replicas is close to no key (difflib): it explains nothing, so the missing key is reported first
        "unknown key far from any key, required key missing",
        one(desired_shards=None, replicas=4),
        "s.yaml, line 2, streams[0].desired_shards: desired_shards is required; add `desired_shards: <value>`",
    ),
    (
        "unknown key in defaults lists only the keys defaults takes",
        "defaults:\n  colour: blue\n" + one(),
        "s.yaml, line 2, defaults.colour: unknown key 'colour'; check its spelling (allowed: "
        "alarm_datapoints_to_alarm, alarm_evaluation_periods, alarm_period_seconds, capacity_mode, enabled, encrypt, "
        "fallback_scale_up_factor, far_over_cooldown_seconds, headroom, kms_key_id, max_iterator_age_seconds, "
        "read_consumers, read_side, retention_hours, "
        "rise_lookahead_periods, scale_down_cooldown_seconds, "
        "scale_down_lookback_hours, scale_down_threshold, scale_up_cooldown_seconds, scale_up_lookback_minutes, "
        "scale_up_threshold, shard_level_metrics, warm_on_switch)",
    ),
    (
        "stream-only key in defaults",
        "defaults:\n  max_shards: 64\n" + one(),
        "s.yaml, line 2, defaults.max_shards: max_shards is set per stream, not in defaults; move it to each stream "
        "that needs it",
    ),
    (
        "name in defaults",
        "defaults:\n  name: orders\n" + one(),
        "s.yaml, line 2, defaults.name: name is set per stream, not in defaults; give each stream its own name",
    ),
    (
        "threshold zero",
        one(scale_up_threshold=0),
        "s.yaml, line 6, streams[0].scale_up_threshold: Input should be greater than 0; write a value in (0, 1]",
    ),
    (
        "threshold above one",
        one(scale_up_threshold=1.5),
        "s.yaml, line 6, streams[0].scale_up_threshold: Input should be less than or equal to 1; write a value in (0, 1]",
    ),
    (
        "down above up",
        one(scale_down_threshold=0.9),
        "s.yaml, line 6, streams[0].scale_down_threshold: scale_down_threshold (0.9) must be below scale_up_threshold "
        "(0.8); write e.g. scale_down_threshold: 0.4",
    ),
    (
        "down equals up, from defaults",
        "defaults:\n  scale_down_threshold: 0.8\n" + one(),
        "s.yaml, line 2, defaults.scale_down_threshold: scale_down_threshold (0.8) must be below scale_up_threshold "
        "(0.8); write e.g. scale_down_threshold: 0.4",
    ),
    (
        # 1.2 × 0.8 = 0.96 ≤ 1: a peak just under the alarm, scaled to 1.2×, sits at 1 / 1.2 = 83% ≥ 80%: re-fires.
        # Suggested: max(1.5, 1.25 / 0.8 = 1.5625) → 1.56
        "headroom under the alarm",
        one(headroom=1.2),
        "s.yaml, line 6, streams[0].headroom: headroom (1.2) × scale_up_threshold (0.8) must exceed 1: a stream "
        "scaled to headroom × its peak must sit below its alarm, or every scale-up re-fires it; write e.g. "
        "headroom: 1.56",
    ),
    (
        # the default headroom 2 with a low alarm: 2 × 0.45 = 0.9 ≤ 1. Suggested: max(1.5, 1.25 / 0.45 = 2.78) → 2.78.
        # headroom is not written in the file: the error points at the stream's first line
        "low alarm with the default headroom",
        one(scale_up_threshold=0.45, scale_down_threshold=0.2),
        "s.yaml, line 2, streams[0].headroom: headroom (2.0) × scale_up_threshold (0.45) must exceed 1: a stream "
        "scaled to headroom × its peak must sit below its alarm, or every scale-up re-fires it; write e.g. "
        "headroom: 2.78",
    ),
    (
        # from defaults: 1.25 × 0.8 = 1.0, not above 1 (the alarm would fire at exactly the sized peak)
        "headroom from defaults",
        "defaults:\n  headroom: 1.25\n" + one(),
        "s.yaml, line 2, defaults.headroom: headroom (1.25) × scale_up_threshold (0.8) must exceed 1: a stream "
        "scaled to headroom × its peak must sit below its alarm, or every scale-up re-fires it; write e.g. "
        "headroom: 1.56",
    ),
    (
        "headroom above ten",
        one(headroom=11),
        "s.yaml, line 6, streams[0].headroom: Input should be less than or equal to 10; write a value in (1, 10.0]",
    ),
    (
        "headroom of one",
        one(headroom=1),
        "s.yaml, line 6, streams[0].headroom: Input should be greater than 1; write a value in (1, 10.0]",
    ),
    (
        "renamed target_utilisation",
        one(target_utilisation=0.6),
        "s.yaml, line 6, streams[0].target_utilisation: target_utilisation was replaced by headroom (capacity kept = "
        "headroom × peak demand; headroom = 1 / target_utilisation, so 0.6 becomes 1.67); write e.g. headroom: 2",
    ),
    (
        "renamed target_utilisation in defaults",
        "defaults:\n  target_utilisation: 0.6\n" + one(),
        "s.yaml, line 2, defaults.target_utilisation: target_utilisation was replaced by headroom (capacity kept = "
        "headroom × peak demand; headroom = 1 / target_utilisation, so 0.6 becomes 1.67); write e.g. headroom: 2",
    ),
    (
        "enabled not bool",
        one(enabled='"yes"'),
        "s.yaml, line 6, streams[0].enabled: Input should be a valid boolean; write true or false",
    ),
    (
        "bad period",
        one(alarm_period_seconds=45),
        "s.yaml, line 6, streams[0].alarm_period_seconds: alarm_period_seconds (45) must be a multiple of 60: Kinesis "
        "stream metrics are one-minute Sums; write 60",
    ),
    # CloudWatch's 10, 20 and 30 s periods are for high-resolution metrics: on a one-minute Sum a 10 s alarm's
    # threshold is 10 s of capacity against 60 s of writes, so it fires at 1/6 of the utilisation it stands for
    *[
        (
            f"sub-minute period {p}",
            one(alarm_period_seconds=p),
            f"s.yaml, line 6, streams[0].alarm_period_seconds: alarm_period_seconds ({p}) must be a multiple of 60: "
            "Kinesis stream metrics are one-minute Sums; write 60",
        )
        for p in (10, 20, 30)
    ],
    (
        "period not a whole number of minutes",  # 90 s: 1.5 minutes; the nearest period below is 60
        one(alarm_period_seconds=90),
        "s.yaml, line 6, streams[0].alarm_period_seconds: alarm_period_seconds (90) must be a multiple of 60: Kinesis "
        "stream metrics are one-minute Sums; write 60",
    ),
    (
        # from 1 h on, CloudWatch allows 7 days: 3,600 × 169 = 608,400 s > 604,800 s (168 periods fit exactly)
        "alarm window over a week",
        one(alarm_period_seconds=3600, alarm_evaluation_periods=169),
        "s.yaml, line 7, streams[0].alarm_evaluation_periods: alarm_period_seconds × alarm_evaluation_periods "
        "(3600 × 169) must be ≤ 604,800 s; write alarm_evaluation_periods: 168 or less",
    ),
    (
        # reported at the key the fix changes, not at alarm_period_seconds or the stream's first line
        "alarm window over a day",
        one(alarm_evaluation_periods=1441),
        "s.yaml, line 6, streams[0].alarm_evaluation_periods: alarm_period_seconds × alarm_evaluation_periods "
        "(60 × 1441) must be ≤ 86,400 s; write alarm_evaluation_periods: 1440 or less",
    ),
    (
        # the periods come from defaults (valid there with the default 60 s period): reported where they are set
        "alarm window over a day, periods from defaults",
        "defaults:\n  alarm_evaluation_periods: 1000\n" + one(alarm_period_seconds=120),
        "s.yaml, line 2, defaults.alarm_evaluation_periods: alarm_period_seconds × alarm_evaluation_periods "
        "(120 × 1000) must be ≤ 86,400 s; write alarm_evaluation_periods: 720 or less",
    ),
    (
        "bad stream name",
        one(name='"orders/eu"'),
        "s.yaml, line 2, streams[0].name: name 'orders/eu' is not a Kinesis stream name; use 1–128 of a-z A-Z 0-9 _ . -",
    ),
    (
        "bad prefix",
        "alarm_name_prefix: 'a b'\n" + one(),
        "s.yaml, line 1, alarm_name_prefix: use 1–64 of a-z A-Z 0-9 _ . -",
    ),
    (
        "no room under the scale-up threshold",
        one(scale_up_threshold=0.55),  # 0.55 − 0.1 = 0.45 ≤ 0.5
        "s.yaml, line 6, streams[0].scale_up_threshold: scale_up_threshold (0.55) minus the scale-down safety margin "
        "(0.1) must stay above scale_down_threshold (0.5), or no merge could ever keep the peak under the alarm; "
        "write e.g. scale_up_threshold: 0.7",
    ),
    (
        "yaml boolean as a name",
        one(name="off"),
        "s.yaml, line 2, streams[0].name: Input should be a valid string; YAML reads on/off/yes/no/true/false as "
        "booleans: quote the value, e.g. name: 'off'",
    ),
    (
        "stream not a mapping",
        "streams:\n  - orders\n",
        "s.yaml, line 2, streams[0]: each stream must be a mapping with name, min_shards, …",
    ),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD, ids=[c for c, _, _ in BAD])
def test_bad_config_says_where_and_what_to_write(case: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="s.yaml")
    assert str(info.value) == message


def test_good_config_merges_defaults_and_overrides() -> None:
    cfg = parse_config(GOOD, source="g.yaml")
    assert cfg.names == ("orders", "clicks")
    clicks = cfg.stream("clicks")
    assert clicks is not None
    assert (clicks.scale_up_cooldown_seconds, clicks.scale_up_threshold, clicks.headroom) == (600, 0.8, 2.0)
    assert cfg.stream("missing") is None


def test_config_is_immutable() -> None:
    cfg = parse_config(GOOD)
    stream = cfg.streams[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stream.max_shards = 1000  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.streams = ()  # type: ignore[misc]


def test_loaded_config_is_cached_per_process(tmp_path: Path) -> None:
    path = tmp_path / "streams.yaml"
    path.write_text(GOOD)
    first = load_config(path)
    path.write_text("garbage: [")  # a warm container keeps what it loaded
    assert load_config(path) is first


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; set AUTOSCALER_CONFIG or --config"):
        load_config(tmp_path / "nope.yaml")


def test_bundled_config_is_valid_and_is_the_default() -> None:
    assert config_path_from_env({}) == str(DEFAULT_CONFIG_PATH)
    assert config_path_from_env({"AUTOSCALER_CONFIG": "/x.yaml"}) == "/x.yaml"
    assert load_config().names


def test_snapshot_round_trip_is_the_same_config(tmp_path: Path) -> None:
    cfg = parse_config(GOOD, source="g.yaml")
    path = tmp_path / "compiled.json"
    path.write_text(json.dumps(snapshot(cfg, GOOD)))
    loaded = load_config(path)
    assert loaded.streams == cfg.streams and loaded.defaults == cfg.defaults
    assert loaded.alarm_name_prefix == cfg.alarm_name_prefix


@pytest.mark.parametrize(
    ("case", "mutate", "message"),
    [
        ("not a snapshot", lambda s: {"streams": s["streams"]}, "not a kinesis-autoscaler config snapshot; recompile"),
        ("newer version", lambda s: {**s, "version": 2}, "snapshot version 2, expected 1"),
        ("no streams", lambda s: {**s, "streams": []}, "snapshot has no streams"),
        ("unknown key", lambda s: {**s, "streams": [{**s["streams"][0], "bogus": 1}]}, "unknown keys ['bogus']"),
        (
            "wrong type",
            lambda s: {**s, "streams": [{**s["streams"][0], "max_shards": "64"}]},
            "streams[0].max_shards has the wrong type (str)",
        ),
        ("bool for int", lambda s: {**s, "streams": [{**s["streams"][0], "max_shards": True}]}, "wrong type (bool)"),
        (
            "missing field",
            lambda s: {**s, "streams": [{k: v for k, v in s["streams"][0].items() if k != "name"}]},
            "missing 1 required keyword-only argument: 'name'",
        ),
        (
            "min above max",
            lambda s: {**s, "streams": [{**s["streams"][0], "min_shards": 90}]},
            "stream 'orders', min_shards: min_shards (90) is above max_shards (64)",
        ),
        (
            "headroom of one",  # 1 × 0.8 = 0.8 ≤ 1
            lambda s: {**s, "streams": [{**s["streams"][0], "headroom": 1.0}]},
            "headroom: headroom (1.0) is outside (1, 10.0]",
        ),
        (
            "headroom under the alarm",  # 1.2 × 0.8 = 0.96 ≤ 1
            lambda s: {**s, "streams": [{**s["streams"][0], "headroom": 1.2}]},
            "headroom: headroom (1.2) × scale_up_threshold (0.8) must exceed 1",
        ),
        (
            "headroom above ten",  # 11 × 0.8 = 8.8 > 1, but 11 > 10
            lambda s: {**s, "streams": [{**s["streams"][0], "headroom": 11.0}]},
            "headroom: headroom (11.0) is outside (1, 10.0]",
        ),
        (
            "snapshot from before the rename",
            lambda s: {
                **s,
                "streams": [
                    {**{k: v for k, v in s["streams"][0].items() if k != "headroom"}, "target_utilisation": 0.6}
                ],
            },
            "unknown keys ['target_utilisation']",
        ),
        (
            "nan threshold",
            lambda s: {**s, "streams": [{**s["streams"][0], "scale_up_threshold": float("nan")}]},
            "scale_up_threshold: scale_up_threshold (nan) is outside (0, 1]",
        ),
        (
            "negative cooldown",
            lambda s: {**s, "streams": [{**s["streams"][0], "scale_up_cooldown_seconds": -1}]},
            "scale_up_cooldown_seconds: scale_up_cooldown_seconds (-1) is outside [0, 86400]",
        ),
        ("duplicate", lambda s: {**s, "streams": [s["streams"][0], s["streams"][0]]}, "a stream is listed twice"),
        ("huge max", lambda s: {**s, "streams": [{**s["streams"][0], "max_shards": 10_000_000}]}, "outside [1, 10000]"),
        # the rules the snapshot loader did not check before they were one set (rules.py): the alarm period's
        (
            "alarm period of 45 s",
            lambda s: {**s, "streams": [{**s["streams"][0], "alarm_period_seconds": 45}]},
            "alarm_period_seconds (45) must be a multiple of 60",
        ),
        (
            "alarm window over a day",  # 600 s × 145 = 87,000 s > 86,400 s
            lambda s: {
                **s,
                "streams": [{**s["streams"][0], "alarm_period_seconds": 600, "alarm_evaluation_periods": 145}],
            },
            "alarm_evaluation_periods: alarm_period_seconds × alarm_evaluation_periods (600 × 145) must be ≤ 86,400 s",
        ),
        (
            "an empty KMS key",
            lambda s: {**s, "streams": [{**s["streams"][0], "kms_key_id": ""}]},
            "kms_key_id must be 1–2048 characters",
        ),
        (
            "defaults breaking a rule",
            lambda s: {**s, "defaults": {**s["defaults"], "scale_down_threshold": 0.9}},
            "defaults.scale_down_threshold: scale_down_threshold (0.9) must be below scale_up_threshold (0.8)",
        ),
        ("bad name", lambda s: {**s, "streams": [{**s["streams"][0], "name": "orders\n"}]}, "a Kinesis stream name"),
        (
            "an unknown capacity mode",
            lambda s: {**s, "streams": [{**s["streams"][0], "capacity_mode": "ON_DEMAND"}]},
            "capacity_mode 'ON_DEMAND' is not one of provisioned, on-demand, auto",
        ),
        # "/" separates an alarm name's parts: a prefix holding one would overlap another deployment's names and scopes
        ("a prefix with a slash", lambda s: {**s, "alarm_name_prefix": "a/b"}, "alarm_name_prefix 'a/b': use 1–64"),
    ],
)
def test_bad_snapshot_is_refused(case: str, mutate: object, message: str) -> None:
    data = snapshot(parse_config(GOOD), GOOD)
    with pytest.raises(ConfigError) as info:
        from_snapshot(mutate(data), "c.json")  # type: ignore[operator]
    assert message in str(info.value), case


@pytest.mark.parametrize(
    ("up", "down", "ok"),
    [
        (0.8, 0.7, False),  # exactly 0.1 apart: refused (in binary 0.8 - 0.1 is a hair above 0.7)
        (0.6, 0.5, False),  # ... and 0.6 - 0.1 a hair below 0.5: both boundaries the same way now
        (0.7, 0.6, False),
        (0.9, 0.8, False),
        (0.8, 0.69, True),
        (0.6, 0.49, True),
    ],
)
def test_the_scale_down_margin_boundary_is_refused_the_same_way_for_every_pair(
    up: float, down: float, ok: bool
) -> None:
    """scale_up_threshold - 0.1 must stay strictly above scale_down_threshold, in the validator and in the
    snapshot's re-check alike."""
    text = one(scale_up_threshold=up, scale_down_threshold=down, headroom=2)
    if not ok:
        with pytest.raises(ConfigError, match="minus the scale-down safety margin"):
            parse_config(text, source="s.yaml")
        return
    config = parse_config(text, source="s.yaml")
    assert (
        from_snapshot(json.loads(json.dumps(snapshot(config, text))), "s.json").streams[0].scale_down_threshold == down
    )
    forged = json.loads(json.dumps(snapshot(config, text)))
    forged["streams"][0]["scale_down_threshold"] = round(up - 0.1, 2)  # a hand-edited snapshot at the boundary
    with pytest.raises(ConfigError):
        from_snapshot(forged, "s.json")


def test_stream_lookup_is_by_name_and_follows_a_replaced_stream_list() -> None:
    config = parse_config(GOOD, source="s.yaml")
    assert [getattr(config.stream(n), "name", None) for n in ("orders", "clicks")] == ["orders", "clicks"]
    assert config.stream("payments") is None and config.stream("Orders") is None
    only = dataclasses.replace(config, streams=config.streams[1:])
    assert only.stream("orders") is None and only.stream("clicks") is config.stream("clicks")
    assert only == dataclasses.replace(config, streams=config.streams[1:])  # the index is not part of equality


def test_a_numeral_for_a_text_key_is_told_to_quote_it() -> None:
    """`name: 0123` is octal 83 to YAML 1.1: the fix is the quotes, not 123 (another stream)."""
    text = "streams:\n  - name: 0123\n    min_shards: 1\n    max_shards: 4\n    desired_shards: 1\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="s.yaml")
    assert str(info.value) == (
        "s.yaml, line 2, streams[0].name: '0123' is read by YAML 1.1 as the number 83; quote it: name: '0123'"
    )
