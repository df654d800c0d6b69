"""FakeEstimator: EstimatorPort answering what a test gave it, per stream, and counting the questions."""

from __future__ import annotations

from collections.abc import Mapping

from autoscaler.config import StreamConfig
from autoscaler.core.capacity_mode import ModeEvidence
from autoscaler.core.errors import TraceError
from autoscaler.core.model import OnDemandPricing


class FakeEstimator:
    def __init__(self, evidence: Mapping[str, ModeEvidence | Exception] | None = None) -> None:
        self.evidence: dict[str, ModeEvidence | Exception] = dict(evidence or {})
        self.asked: list[str] = []
        self.pricing: OnDemandPricing | None = None  # as last asked
        self.provisioned_since: float | None = None

    def estimate(
        self,
        cfg: StreamConfig,
        now: float,
        pricing: OnDemandPricing = OnDemandPricing.STANDARD,
        provisioned_since: float | None = None,
    ) -> ModeEvidence:
        self.asked.append(cfg.name)
        self.pricing = pricing
        self.provisioned_since = provisioned_since
        got = self.evidence.get(cfg.name)
        if got is None:
            raise TraceError(f"stream {cfg.name} has no history")
        if isinstance(got, Exception):
            raise got
        return got
