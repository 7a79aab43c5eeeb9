"""Replay cases made to order: a document of a known patient with the confidence, resource
count and label a test needs."""

from domain.patients import PatientRecord
from domain.replay import ReplayCase, stand_in
from domain.verdicts import Label
from schemas import ExtractionModel, FhirDate, HumanName, PatientDemographics

RECORD = PatientRecord("p1", "Smith", ("John",), FhirDate(1970, 4, 3))
SMITH = PatientDemographics(
    name=HumanName(family="Smith", given=["John"]), birth_date=FhirDate(1970, 4, 3)
)
MAIN = ExtractionModel(name="extractor-large", version="1")


def case(
    n: int,
    confidence: float,
    label: Label | None = None,
    *,
    resources: int = 10,
    model: ExtractionModel = MAIN,
    patient: PatientDemographics = SMITH,
) -> ReplayCase:
    result = stand_in(
        document_id=f"d{n}",
        patient_id="p1",
        model=model,
        confidence=confidence,
        resource_count=resources,
        patient=patient,
    )
    return ReplayCase(f"d{n}", result, RECORD, label)
