"""The flag rules (docs/contract.md#flag-rules): which extractions a person should check before
trusting them.

Every rule is evaluated and every one that fires is reported, in the contract's order, each with
a text a reviewer understands at a glance. With zero resources both `no_resources` and
`few_resources_low_confidence` (when the confidence is also low) fire: zero is fewer than three.
Without a patient record only `unknown_patient` speaks for it: birth date and name have nothing
to be compared with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from domain.names import compare_names, describe_name_comparison
from domain.patients import PatientRecord
from domain.thresholds import RuleThresholds
from schemas import ExtractionResult, FlagReason, FlagRule, ReviewStatus

Rule = Callable[[ExtractionResult, PatientRecord | None, RuleThresholds], FlagReason | None]


def low_confidence(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    if result.confidence >= thresholds.min_confidence:
        return None
    confidence, limit = _decimals(result.confidence, thresholds.min_confidence)
    return FlagReason(
        rule=FlagRule.LOW_CONFIDENCE,
        text=f"Extraction confidence {confidence} is below the {limit} threshold",
    )


def fallback_model(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    if not result.model.is_fallback:
        return None
    model = f"{result.model.name} {result.model.version}".strip()
    return FlagReason(rule=FlagRule.FALLBACK_MODEL, text=f"Fallback model {model} was used")


def no_resources(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    if result.resources:
        return None
    return FlagReason(
        rule=FlagRule.NO_RESOURCES, text="No resources were extracted from the document"
    )


def few_resources_low_confidence(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    count = len(result.resources)
    limit = thresholds.few_resources_min_confidence
    if count >= thresholds.few_resources_count or result.confidence >= limit:
        return None
    confidence, shown_limit = _decimals(result.confidence, limit)
    return FlagReason(
        rule=FlagRule.FEW_RESOURCES_LOW_CONFIDENCE,
        text=(
            f"{_resources(count)} extracted (fewer than {thresholds.few_resources_count}) "
            f"with confidence {confidence}, below the {shown_limit} required for so few"
        ),
    )


def birth_date_conflict(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    on_document = result.patient.birth_date
    on_record = record.birth_date if record is not None else None
    if on_document is None or on_record is None or on_document == on_record:
        return None
    text = f"Birth date on the document {on_document} differs from the record {on_record}"
    swapped = (on_document.year, on_document.month, on_document.day) == (
        on_record.year,
        on_record.day,
        on_record.month,
    )
    if swapped:
        text += ": day and month look swapped"
    return FlagReason(rule=FlagRule.BIRTH_DATE_CONFLICT, text=text)


def name_mismatch(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    document_name = result.patient.name
    if record is None or document_name is None:
        return None
    comparison = compare_names(document_name, record)
    if comparison is None or comparison.score >= thresholds.name_similarity_min:
        return None
    return FlagReason(
        rule=FlagRule.NAME_MISMATCH,
        text=describe_name_comparison(
            document_name, record, comparison, thresholds.name_similarity_min
        ),
    )


def unknown_patient(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    if record is not None:
        return None
    return FlagReason(
        rule=FlagRule.UNKNOWN_PATIENT,
        text=f"No patient record exists for patient id {result.patient_id}",
    )


# The contract's order: reasons are reported in this order.
RULES: tuple[Rule, ...] = (
    low_confidence,
    fallback_model,
    no_resources,
    few_resources_low_confidence,
    birth_date_conflict,
    name_mismatch,
    unknown_patient,
)


def evaluate(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> list[FlagReason]:
    """Every rule that fires for this extraction, in the contract's order; empty means
    auto-approve."""
    return [reason for rule in RULES if (reason := rule(result, record, thresholds)) is not None]


def review_status_for(reasons: Sequence[FlagReason]) -> ReviewStatus:
    return ReviewStatus.FLAGGED if reasons else ReviewStatus.AUTO_APPROVED


def _decimals(value: float, threshold: float) -> tuple[str, str]:
    """Up to four decimals, more when needed: 0.79999 must not print as the 0.80 threshold."""
    shown = _short_decimal(value)
    for decimals in range(len(shown.partition(".")[2]), 7):
        shown = f"{value:.{decimals}f}"
        if float(shown) != threshold:
            return shown, _short_decimal(threshold)
    return repr(value), _short_decimal(threshold)


def _short_decimal(value: float) -> str:
    text = f"{value:.4f}".rstrip("0")
    return text + "0" * (2 - len(text.partition(".")[2]))


def _resources(count: int) -> str:
    if count == 0:
        return "No resources"
    return "Only 1 resource" if count == 1 else f"Only {count} resources"
