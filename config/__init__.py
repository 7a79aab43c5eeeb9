"""Configuration on the ground floor: the typed settings every part of optimerge is built from."""

from config.settings import (
    InfraSettings,
    MissingEndpointError,
    ResolvedSettings,
    Settings,
    load_settings,
)

__all__ = ["InfraSettings", "MissingEndpointError", "ResolvedSettings", "Settings", "load_settings"]
