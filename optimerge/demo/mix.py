"""What the demo feed is made of: document kinds, models and shares, and the flag reasons a
document is meant to trigger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from domain.thresholds import RuleThresholds
from schemas.events import ExtractionModel, ExtractionResult, FlagRule

MAIN_MODEL = ExtractionModel(name="extractor-large", version="2026.10")
FALLBACK_MODEL = ExtractionModel(name="extractor-small", version="2026.08", is_fallback=True)
DEFAULT_INTERVAL = timedelta(milliseconds=100)
MAX_EXTRACTION_DELAY = timedelta(seconds=45)
LAB_TYPES = frozenset({"Observation", "DiagnosticReport"})


@dataclass(frozen=True, slots=True)
class DocumentKind:
    type: str
    title: str
    pages: tuple[int, int]
    weight: float
    lab_only: bool = False


DOCUMENT_KINDS = (
    DocumentKind("discharge-summary", "Discharge summary", (2, 6), 0.30),
    DocumentKind("lab-report", "Laboratory report", (1, 3), 0.35, lab_only=True),
    DocumentKind("referral-letter", "Referral letter", (1, 2), 0.20),
    DocumentKind("clinic-note", "Outpatient clinic note", (1, 3), 0.15),
)


@dataclass(frozen=True, slots=True)
class FeedMix:
    """Shares of each kind of document; with the default thresholds about 11 % are flagged."""

    fallback_model: float = 0.03
    low_confidence: float = 0.038  # of the main model's documents
    fallback_low_confidence: float = 0.40  # of the fallback model's documents
    no_resources: float = 0.004
    few_resources: float = 0.018  # 1 or 2 resources
    exact_name: float = 0.40  # the rest of the right names are benign variants
    unknown_patient: float = 0.006
    name_mismatch: float = 0.01  # another patient's name, right birth date
    birth_date_conflict: float = 0.012  # day/month swap or wrong year, right name
    wrong_patient: float = 0.003  # another patient's name and birth date
    no_identity: float = 0.004  # neither a name nor a birth date on the document


@dataclass(frozen=True, slots=True)
class DemoDocument:
    """A feed document and the rule codes it was built to trigger (empty: auto-approved)."""

    result: ExtractionResult
    intended_reasons: frozenset[str]

    @property
    def flagged(self) -> bool:
        return bool(self.intended_reasons)


@dataclass(frozen=True, slots=True)
class FlagSummary:
    documents: int
    flagged: int
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def flag_rate(self) -> float:
        return self.flagged / self.documents if self.documents else 0.0


def flag_summary(documents: Iterable[DemoDocument]) -> FlagSummary:
    total = flagged = 0
    by_reason: Counter[str] = Counter()
    for document in documents:
        total += 1
        flagged += document.flagged
        by_reason.update(document.intended_reasons)
    return FlagSummary(documents=total, flagged=flagged, by_reason=dict(sorted(by_reason.items())))


def document_reasons(
    confidence: float, is_fallback: bool, resource_count: int, rules: RuleThresholds
) -> set[str]:
    """Rules 1-4 of docs/contract.md#flag-rules, which depend on the document alone."""
    reasons: set[str] = set()
    if confidence < rules.min_confidence:
        reasons.add(FlagRule.LOW_CONFIDENCE.value)
    if is_fallback:
        reasons.add(FlagRule.FALLBACK_MODEL.value)
    if resource_count == 0:
        reasons.add(FlagRule.NO_RESOURCES.value)
    if (
        resource_count < rules.few_resources_count
        and confidence < rules.few_resources_min_confidence
    ):
        reasons.add(FlagRule.FEW_RESOURCES_LOW_CONFIDENCE.value)
    return reasons
