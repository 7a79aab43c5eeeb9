"""The reviewer app: flagged queue, verify page, actions through the stream, audit trail."""

from webapp.app import create_app
from webapp.settings import AppSettings

__all__ = ["AppSettings", "create_app"]
