"""Topic names of SPEC.md, with an optional prefix so that tests and tenants never share topics."""

from __future__ import annotations

from dataclasses import dataclass

EXTRACTION_RESULTS = "extraction.results"
REVIEW_ACTIONS = "review.actions"
FLAGGED_ITEMS = "flagged.items"
DOCUMENT_STATUS = "document.status"
PIPELINE_METRICS = "pipeline.metrics"
EXTRACTION_RESULTS_DLQ = "extraction.results.dlq"


@dataclass(frozen=True)
class Topics:
    prefix: str = ""

    def _name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def extraction_results(self) -> str:
        return self._name(EXTRACTION_RESULTS)

    @property
    def review_actions(self) -> str:
        return self._name(REVIEW_ACTIONS)

    @property
    def flagged_items(self) -> str:
        return self._name(FLAGGED_ITEMS)

    @property
    def document_status(self) -> str:
        return self._name(DOCUMENT_STATUS)

    @property
    def pipeline_metrics(self) -> str:
        return self._name(PIPELINE_METRICS)

    @property
    def dlq(self) -> str:
        return self._name(EXTRACTION_RESULTS_DLQ)

    def inputs(self) -> tuple[str, str]:
        """The co-partitioned input topics (keyed by patient_id)."""
        return (self.extraction_results, self.review_actions)

    def all(self) -> tuple[str, ...]:
        return (
            self.extraction_results,
            self.review_actions,
            self.flagged_items,
            self.document_status,
            self.pipeline_metrics,
            self.dlq,
        )
