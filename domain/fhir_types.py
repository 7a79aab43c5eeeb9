"""Which FHIR R4 (4.0.1) resource types the /fhir/ API serves, and how ids look."""

from __future__ import annotations

import re

# What extractions store, one row per resource: the R4 Patient compartment's types (less
# Patient, Provenance and AuditEvent, which the API builds itself or never holds) and the few
# supporting types extractors emit beside them. A Device read that finds no stored Device
# answers with the extraction model of that id (domain/fhir_ai.py).
STORED_TYPES = frozenset(
    {
        "Account", "AdverseEvent", "AllergyIntolerance", "Appointment", "AppointmentResponse",
        "Basic", "BodyStructure", "CarePlan", "CareTeam", "ChargeItem", "Claim", "ClaimResponse",
        "ClinicalImpression", "Communication", "CommunicationRequest", "Composition",
        "Condition", "Consent", "Coverage", "CoverageEligibilityRequest",
        "CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceRequest",
        "DeviceUseStatement", "DiagnosticReport", "DocumentManifest", "DocumentReference",
        "Encounter", "EnrollmentRequest", "EpisodeOfCare", "ExplanationOfBenefit",
        "FamilyMemberHistory", "Flag", "Goal", "Group", "ImagingStudy", "Immunization",
        "ImmunizationEvaluation", "ImmunizationRecommendation", "Invoice", "List", "Location",
        "MeasureReport", "Media", "Medication", "MedicationAdministration", "MedicationDispense",
        "MedicationRequest", "MedicationStatement", "MolecularSequence", "NutritionOrder",
        "Observation", "Organization", "Person", "Practitioner", "PractitionerRole", "Procedure",
        "QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchSubject",
        "RiskAssessment", "Schedule", "ServiceRequest", "Specimen", "Substance",
        "SupplyDelivery", "SupplyRequest", "VisionPrescription",
    }
)  # fmt: skip
BUILT_TYPES = frozenset({"Patient", "Provenance"})
SERVED_TYPES = STORED_TYPES | BUILT_TYPES

# FHIR's id datatype: what a logical id or version id may be.
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def is_fhir_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None
