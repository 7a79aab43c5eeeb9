"""uvicorn's access log without query strings (docs/contract.md#no-phi-in-logs): a query can
name a patient (`/fhir/Patient?name=...`, `?patient=...`), so only the path is logged."""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG


class WithoutQueryString(logging.Filter):
    """uvicorn logs (client, method, path?query, http version, status): the query goes."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the filter on its access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["without_query"] = {"()": WithoutQueryString}
    config["handlers"]["access"]["filters"] = ["without_query"]
    return config
