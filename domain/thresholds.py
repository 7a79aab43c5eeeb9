"""The flag rules' thresholds: domain data, set by configuration (docs/contract.md#flag-rules)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RuleThresholds(BaseModel):
    """Where each flag rule draws its line; the defaults are the contract's."""

    model_config = ConfigDict(frozen=True)

    min_confidence: float = Field(default=0.80, ge=0.0, le=1.0)
    few_resources_count: int = Field(default=3, ge=0)
    few_resources_min_confidence: float = Field(default=0.95, ge=0.0, le=1.0)
    name_similarity_min: float = Field(default=80.0, ge=0.0, le=100.0)
    # One typo is forgiven in a name this long or longer, when the rest of the identity agrees.
    name_typo_min_length: int = Field(default=5, ge=1)
