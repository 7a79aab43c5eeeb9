"""`optimerge notify`: flagged items, digests and alerts to webhooks, each exactly once."""

from optimerge.notify.runner import Notifier

__all__ = ["Notifier"]
