"""Consumer group ids (docs/contract.md#topics): the merge workers' group and the groups of the
readers that share work beside it (the notifier, the metrics store). Free of faust, so readers
of the group need not import it."""

from __future__ import annotations

from config import ResolvedSettings


def group_id(settings: ResolvedSettings) -> str:
    """The merge workers' consumer group."""
    return f"{settings.topic_prefix}{settings.app_id}"


def notify_group_id(settings: ResolvedSettings) -> str:
    return f"{group_id(settings)}-notify"


def metrics_store_group_id(settings: ResolvedSettings) -> str:
    return f"{group_id(settings)}-metrics-store"
