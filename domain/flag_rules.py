"""The flag rules (docs/contract.md#flag-rules): which extractions a person should check before
trusting them.

Every rule is evaluated and every one that fires is reported, in the contract's order, each with
a text a reviewer understands at a glance; the identity rules add their evidence. With zero
resources both `no_resources` and `few_resources_low_confidence` (when the confidence is also
low) fire: zero is fewer than three. Without a patient record only `unknown_patient` speaks for
it: birth date and name have nothing to be compared with. A document that names neither the
patient nor a birth date raises no conflict for what it does not say, but `no_identity` (last in
the order) reports that nothing on it ties it to the patient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from domain.birth_dates import compare_birth_dates
from domain.identity import birth_date_evidence, describe_name_verdict, judge_name, name_evidence
from domain.names import has_name
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
    """Compared for what both dates say: a partial date conflicts only in the parts it gives."""
    comparison = compare_birth_dates(
        result.patient.birth_date, record.birth_date if record is not None else None
    )
    if comparison is None or comparison.agrees:
        return None
    return FlagReason(
        rule=FlagRule.BIRTH_DATE_CONFLICT,
        text=(
            f"Birth date on the document {comparison.document} differs from the record "
            f"{comparison.record}: {comparison.explanation}"
        ),
        evidence=(birth_date_evidence(comparison),),
    )


def name_mismatch(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    document_name = result.patient.name
    if record is None or document_name is None:
        return None
    birth = compare_birth_dates(result.patient.birth_date, record.birth_date)
    verdict = judge_name(
        document_name,
        record,
        birth,
        threshold=thresholds.name_similarity_min,
        typo_min_length=thresholds.name_typo_min_length,
    )
    if verdict is None or verdict.matches:
        return None
    return FlagReason(
        rule=FlagRule.NAME_MISMATCH,
        text=describe_name_verdict(document_name, record, verdict, thresholds.name_similarity_min),
        evidence=name_evidence(verdict),
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


def no_identity(
    result: ExtractionResult, record: PatientRecord | None, thresholds: RuleThresholds
) -> FlagReason | None:
    if result.patient.birth_date is not None or has_name(result.patient.name):
        return None
    return FlagReason(
        rule=FlagRule.NO_IDENTITY,
        text=(
            "The document names neither the patient nor a birth date: nothing on it shows "
            f"that it belongs to patient {result.patient_id}"
        ),
    )


# The contract's order (rules 1-7, then the additions): reasons are reported in this order.
RULES: tuple[Rule, ...] = (
    low_confidence,
    fallback_model,
    no_resources,
    few_resources_low_confidence,
    birth_date_conflict,
    name_mismatch,
    unknown_patient,
    no_identity,
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


def foreign_reference(references: Sequence[str]) -> FlagReason | None:
    """`foreign_reference`: resources that point at another patient's data (found by
    domain/references.py); the references are kept as written and never followed."""
    if not references:
        return None
    more = f" and {len(references) - 3} more" if len(references) > 3 else ""
    shown = ", ".join(references[:3]) + more
    return FlagReason(
        rule=FlagRule.FOREIGN_REFERENCE,
        text=(
            f"The document refers to another patient's data ({shown}); the reference is kept "
            "as written, never followed: check that the document belongs to this patient"
        ),
    )
