"""Real Synthea patients from the shared samples, as patient records."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from domain.patients import PatientRecord, patient_record_from_fhir

SYNTHEA_SAMPLES = Path("/work/shared/data/fhir-r4-samples")


@cache
def synthea_patient(given_and_family: str) -> dict[str, Any]:
    """The FHIR Patient of the sample whose file starts with e.g. "Alfreda_Wyman"."""
    paths = sorted(SYNTHEA_SAMPLES.glob(f"{given_and_family}_*.json"))
    assert paths, f"Synthea sample {given_and_family} missing in {SYNTHEA_SAMPLES}"
    bundle = json.loads(paths[0].read_text())
    return next(
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Patient"
    )


def synthea_record(given_and_family: str) -> PatientRecord:
    return patient_record_from_fhir(synthea_patient(given_and_family))
