"""A record of the legacy Django app's `ParsedData` export, as `optimerge import-legacy` reads it.

Unknown fields are kept (they are stored with the imported document), never rejected. The review
status is kept as the raw string: which statuses are known is the mapping's decision, so an
unknown one is reported as such instead of as a validation error.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.events import FhirResource, NonEmptyStr, validate_resources


class LegacyRecord(BaseModel):
    # Django exports integer primary keys: "document_id": 123 is the document "123".
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    document_id: NonEmptyStr
    patient_id: NonEmptyStr
    review_status: str
    reviewed_by: str | None = None
    reviewed_at: AwareDatetime | None = None
    flag_reason: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    model: str | None = None
    created_at: AwareDatetime
    # Some exports carry the upload time too; without it the record's creation time stands in.
    uploaded_at: AwareDatetime | None = None
    fhir_resources: list[FhirResource] = Field(default_factory=list)

    _check_resources = field_validator("fhir_resources")(validate_resources)

    @model_validator(mode="before")
    @classmethod
    def _one_reviewer(cls, data: Any) -> Any:
        """Accept `reviewer` for `reviewed_by`; refuse a record where the two disagree."""
        if not isinstance(data, dict) or "reviewer" not in data:
            return data
        data = dict(data)
        reviewer = data.pop("reviewer")
        reviewed_by = data.get("reviewed_by")
        if reviewed_by is not None and reviewer is not None and reviewed_by != reviewer:
            raise ValueError(f"reviewed_by {reviewed_by!r} and reviewer {reviewer!r} disagree")
        if reviewed_by is None:
            data["reviewed_by"] = reviewer
        return data

    @field_validator("reviewed_by", "model", "flag_reason")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # Django stores "" for an empty CharField: it records nobody, no model, no reason.
        return (value.strip() or None) if value is not None else None
