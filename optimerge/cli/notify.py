"""`optimerge notify`: post flagged items, digests and alerts to the configured webhooks."""

from __future__ import annotations

import signal
from types import FrameType

import typer

from optimerge.cli._common import fail, resolved


def register(app: typer.Typer) -> None:
    app.command("notify")(notify)


def notify() -> None:
    """Run the notifier (its own consumer group on flagged.items) until SIGTERM or SIGINT.

    Channels, routing by rule and the digest come from settings (OPTIMERGE_NOTIFY__*, see
    docs/contract.md#notifications). Each notification is delivered once, retried with backoff
    while the receiver fails."""
    from optimerge.notify.runner import Notifier, NotifyConfigError
    from pipeline.log_redaction import install_log_redaction

    install_log_redaction()
    try:
        notifier = Notifier(resolved())
    except NotifyConfigError as exc:
        fail(str(exc))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        notifier.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    typer.echo(
        f"notify: {len(notifier.config.channels)} channel(s), group {notifier.group_id}", err=True
    )
    notifier.run()
    typer.echo(f"notify: stopped after {notifier.sent} delivery(ies)", err=True)
