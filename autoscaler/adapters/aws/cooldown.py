"""CooldownPort on a DynamoDB table: one item per stream, taken and released with conditional writes.

Item (partition key `stream`):
  owner              S  the run holding the lock (absent when free)
  lease_until        N  epoch s; past it, the lock is free again even if the owner never released it
  cooldown_up_until  N  epoch s; no new scale-up before it
  cooldown_down_until N epoch s; no new scale-down before it
  last_action, last_action_at, usc_calls (L of N: our UpdateShardCount calls in the last 24 h),
  mode_switches (L of N: our UpdateStreamMode calls in the last MODE_SWITCH_MEMORY_SECONDS)
  expires_at         N  TTL attribute: DynamoDB deletes the item some time after (cleanup only; never relied on)

Timeline of one scale-up (lease = remaining invocation time + 60 s, so it outlives the function's timeout):

  t0  acquire: SET owner=A, lease_until=t0+timeout+60   IF (no owner OR owner=A OR lease_until<t0)
                                                           AND (no cooldown_up_until OR cooldown_up_until<=t0)
  t0+ a second alarm's acquire fails the condition → "locked" (skipped, nothing touched)
  t1  splits / UpdateShardCount, waits for ACTIVE (a continuation keeps owner=A and re-acquires as A)
  t2  release:  REMOVE owner SET lease_until=0, cooldown_up_until=t2+cooldown   IF owner=A
  t2+ any acquire before t2+cooldown fails → "cooldown" (skipped)
  crash between t0 and t2: nobody releases; at t0+timeout+60 the lease lapses and the next alarm may acquire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from autoscaler.adapters.aws.errors import error_code
from autoscaler.core.defaults import LOCK_ITEM_TTL_SECONDS, MODE_SWITCH_MEMORY_SECONDS
from autoscaler.core.errors import CooldownActive, LockHeld, LockUnavailable
from autoscaler.core.lock import lost, refusal
from autoscaler.core.model import Direction, LockState

IAM_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")

_COOLDOWN_ATTR = {Direction.UP: "cooldown_up_until", Direction.DOWN: "cooldown_down_until"}
DAY_SECONDS = 86_400
_CALLS_ATTR = {"update_shard_count_calls": "usc_calls", "mode_switches": "mode_switches"}  # LockState field → attr


def _n(value: float) -> dict[str, str]:
    return {"N": str(Decimal(repr(round(value, 3))))}


class CooldownTable:
    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table = table_name

    def acquire(
        self,
        stream: str,
        *,
        owner: str,
        now: float,
        lease_until: float,
        blocked_by: Sequence[Direction],
        take_over_from: str | None = None,
    ) -> LockState:
        values: dict[str, Any] = {}
        if take_over_from is not None:
            condition = "#owner = :previous"  # the handing run still holds it (its lease may have lapsed: fine)
            values[":previous"] = {"S": take_over_from}
        else:
            condition = "(attribute_not_exists(#owner) OR lease_until < :now)"
        for direction in blocked_by:
            attr = _COOLDOWN_ATTR[direction]
            condition += f" AND (attribute_not_exists({attr}) OR {attr} <= :now)"
        if ":now" in condition:
            values[":now"] = _n(now)
        return self._lease_write(
            stream,
            "SET #owner = :owner, lease_until = :lease, expires_at = :exp",
            condition,
            values,
            owner=owner,
            now=now,
            lease_until=lease_until,
            refused=lambda exc: self._refusal(stream, exc, now, blocked_by, take_over_from),
        )

    def _lease_write(
        self,
        stream: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        owner: str,
        now: float,
        lease_until: float,
        refused: Callable[[ClientError], CooldownActive],
    ) -> LockState:
        """One conditional write of the lease (acquire, renew); the refusal carries the item that failed the
        condition (ALL_OLD: no second read to explain it)."""
        try:
            out = self.client.update_item(
                TableName=self.table,
                Key={"stream": {"S": stream}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    **values,
                    ":owner": {"S": owner},
                    ":lease": _n(lease_until),
                    ":exp": _n(int(max(lease_until, now) + LOCK_ITEM_TTL_SECONDS)),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise refused(exc) from exc
            raise LockUnavailable(
                f"cooldown table {self.table}: {error_code(exc)}; not resharding without the lock"
            ) from exc
        return _state(stream, out.get("Attributes", {}))

    def _refusal(
        self,
        stream: str,
        exc: ClientError,
        now: float,
        blocked_by: Sequence[Direction],
        take_over_from: str | None,
    ) -> CooldownActive:
        """Why the condition failed, from the item DynamoDB returned with the failure (ALL_OLD). The decision was
        the condition's; this only explains it, by the same rule (autoscaler/core/lock.py)."""
        state = self._refusing_item(stream, exc)
        why = refusal(stream, state, now=now, blocked_by=blocked_by, take_over_from=take_over_from)
        return why or LockHeld(f"{stream}: lock refused (its state changed meanwhile)", state)

    def _refusing_item(self, stream: str, exc: ClientError) -> LockState | None:
        """The item that failed a condition, as DynamoDB returned it (ALL_OLD). No item with the failure: DynamoDB
        had none, or an emulator on an older API (dynalite) returned none; reading it back tells the two apart (one
        GetItem, on those paths only). A read-back that fails explains nothing: the condition already decided."""
        item = exc.response.get("Item")
        if item:
            return _state(stream, item)
        try:
            return self.read(stream)
        except LockUnavailable:
            return None

    def release(
        self,
        stream: str,
        *,
        owner: str,
        now: float,
        cooldowns: Mapping[Direction, float],
        action: str | None,
    ) -> None:
        sets = ["lease_until = :zero", "expires_at = :exp"]
        values: dict[str, Any] = {":owner": {"S": owner}, ":zero": _n(0), ":exp": _n(int(now + LOCK_ITEM_TTL_SECONDS))}
        for direction, until in cooldowns.items():
            attr = _COOLDOWN_ATTR[direction]
            sets.append(f"{attr} = :{attr}")
            values[f":{attr}"] = _n(until)
        if action:
            sets += ["last_action = :action", "last_action_at = :now"]
            values[":action"] = {"S": action}
            values[":now"] = _n(now)
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"stream": {"S": stream}},
                UpdateExpression="REMOVE #owner SET " + ", ".join(sets),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return  # our lease lapsed and someone else holds the lock now: theirs to release
            raise LockUnavailable(f"cooldown table {self.table}: release failed ({error_code(exc)})") from exc

    def renew(self, stream: str, *, owner: str, now: float, lease_until: float) -> LockState:
        return self._lease_write(
            stream,
            "SET lease_until = :lease, expires_at = :exp",
            "#owner = :owner",
            {},
            owner=owner,
            now=now,
            lease_until=lease_until,
            refused=lambda exc: lost(stream, self._refusing_item(stream, exc)),
        )

    def note_update_shard_count(self, stream: str, *, owner: str, at: float) -> None:
        self._note(stream, "update_shard_count_calls", DAY_SECONDS, owner=owner, at=at)

    def note_mode_switch(self, stream: str, *, owner: str, at: float) -> None:
        self._note(stream, "mode_switches", MODE_SWITCH_MEMORY_SECONDS, owner=owner, at=at)

    def _note(self, stream: str, field: str, keep_seconds: float, *, owner: str, at: float) -> None:
        """Append `at` to one of the item's call lists (dropping calls older than keep_seconds), as the owner."""
        state = self.read(stream)
        recent = [t for t in (getattr(state, field) if state else ()) if at - t < keep_seconds]
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"stream": {"S": stream}},
                UpdateExpression=f"SET {_CALLS_ATTR[field]} = :calls",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":calls": {"L": [_n(t) for t in [*recent, at]]}, ":owner": {"S": owner}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return
            raise LockUnavailable(f"cooldown table {self.table}: {error_code(exc)}") from exc

    def read(self, stream: str) -> LockState | None:
        try:
            out = self.client.get_item(TableName=self.table, Key={"stream": {"S": stream}}, ConsistentRead=True)
        except ClientError as exc:
            raise LockUnavailable(f"cooldown table {self.table}: {error_code(exc)}") from exc
        item = out.get("Item")
        return _state(stream, item) if item else None


def _num(item: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    raw = item.get(key)
    return float(raw["N"]) if isinstance(raw, Mapping) and "N" in raw else default


def _state(stream: str, item: Mapping[str, Any]) -> LockState:
    owner = item.get("owner", {}).get("S")
    cooldowns = {d: _num(item, attr) for d, attr in _COOLDOWN_ATTR.items() if attr in item}
    calls = {
        field: tuple(float(x["N"]) for x in item.get(attr, {}).get("L", []) if "N" in x)
        for field, attr in _CALLS_ATTR.items()
    }
    last = item.get("last_action", {}).get("S")
    return LockState(
        stream=stream,
        owner=owner,
        lease_until=_num(item, "lease_until"),
        cooldown_until=cooldowns,
        last_action=last,
        last_action_at=_num(item, "last_action_at") if "last_action_at" in item else None,
        **calls,
    )
