"""Configuration on the ground floor: the typed settings every part of optimerge is built from."""

from config.audit import AuditSettings, MissingAuditKeyError
from config.settings import (
    InfraSettings,
    MissingEndpointError,
    ResolvedSettings,
    Settings,
    load_settings,
)

__all__ = [
    "AuditSettings",
    "InfraSettings",
    "MissingAuditKeyError",
    "MissingEndpointError",
    "ResolvedSettings",
    "Settings",
    "load_settings",
]
