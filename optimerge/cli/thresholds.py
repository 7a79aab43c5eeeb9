"""`optimerge thresholds`: evaluate, recommend, create, apply and list rule-set versions
(docs/contract.md#rule-sets)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from optimerge.cli._common import fail, print_json, with_app_database

thresholds_app = typer.Typer(
    help="Flag-rule thresholds: what-if on the judged history, recommendations from reviewers' "
    "verdicts, numbered rule-set versions."
)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="A threshold NAME=VALUE (repeatable), e.g. min_confidence=0.75."),
]
SinceOption = Annotated[
    datetime | None, typer.Option(help="Only documents merged since (ISO 8601, UTC if no zone).")
]
ModelOption = Annotated[str | None, typer.Option(help="Only documents of this extraction model.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object (contract).")]
ActorOption = Annotated[str, typer.Option(help="Who does it (kept with the version).")]
ReasonOption = Annotated[str, typer.Option(help="Why (kept with the version).")]


def register(app: typer.Typer) -> None:
    app.add_typer(thresholds_app, name="thresholds")


def _scope(since: datetime | None, model: str | None) -> tuple[Any, dict[str, Any]]:
    from datetime import UTC

    from storage.history import Scope

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return Scope(since=since, model=model), {
        "since": since.isoformat() if since else None,
        "model": model,
    }


@thresholds_app.command("evaluate")
def evaluate(
    assignments: SetOption = None,
    version: Annotated[
        int | None, typer.Option(help="Evaluate a stored rule-set version instead.")
    ] = None,
    since: SinceOption = None,
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the stored extractions through the flag rules at candidate thresholds (the
    current set with --set changes, or --version N) and compare with the current set: flag
    rate, false positives on reviewed documents, problems missed, per rule. Writes nothing."""
    from domain.rule_sets import AssignmentError, RuleSet, with_assignments
    from optimerge.thresholds_report import evaluation_json, evaluation_text
    from pipeline.thresholds import active_rule_set, evaluate_thresholds
    from storage.db import connect
    from storage.rule_sets import UnknownRuleSetError, load_rule_set

    settings, url = with_app_database()
    scope, shown = _scope(since, model)
    with connect(url) as conn:
        current = active_rule_set(conn, settings.rules)
        try:
            if version is not None:
                with conn.cursor() as cur:
                    base = load_rule_set(cur, version)
            else:
                base = current
            candidate = RuleSet(
                base.version if version is not None else -1,
                with_assignments(base.thresholds, assignments or []),
                base.by_model,
            )
        except (AssignmentError, UnknownRuleSetError) as exc:
            fail(str(exc), code=2)
        evaluation = evaluate_thresholds(conn, candidate, current, scope)
    if as_json:
        print_json(evaluation_json(evaluation, shown))
    else:
        typer.echo(evaluation_text(evaluation))


@thresholds_app.command("recommend")
def recommend(
    target_flag_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="The share of documents to flag, e.g. 0.12.")
    ],
    max_false_positive: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Say so when no set keeps false positives under it."),
    ] = None,
    per_model: Annotated[
        bool,
        typer.Option(
            "--per-model", help="Also thresholds per extraction model with enough verdicts."
        ),
    ] = False,
    since: SinceOption = None,
    model: ModelOption = None,
    save: Annotated[
        bool, typer.Option("--save", help="Store the proposal as a new version (not active).")
    ] = False,
    actor: Annotated[str | None, typer.Option(help="With --save: who.")] = None,
    reason: Annotated[str | None, typer.Option(help="With --save: why.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Search the thresholds for the set that flags the target share of the judged history with
    the fewest false positives, and say how much reviewed history supports it. Exit 1 when the
    history is too thin to propose anything (the reasons are printed)."""
    from domain.rule_sets import RuleSet
    from optimerge.thresholds_report import proposal_json, proposal_text
    from pipeline.thresholds import (
        active_rule_set,
        expected_figures,
        load_cases,
        recommend_thresholds,
        save_rule_set,
    )
    from storage.db import connect

    if save and not (actor and reason):
        fail("--save needs --actor and --reason (they are kept with the version)", code=2)
    settings, url = with_app_database()
    scope, shown = _scope(since, model)
    saved: int | None = None
    with connect(url) as conn:
        current = active_rule_set(conn, settings.rules)
        # Tuned on one model's documents, the search starts from that model's thresholds.
        base = current if model is None else RuleSet(current.version, current.thresholds_for(model))
        cases = load_cases(conn, scope)
        proposal = recommend_thresholds(
            cases,
            base,
            target=target_flag_rate,
            max_false_positive=max_false_positive,
            per_model=per_model,
        )
        rule_set = proposal.rule_set()
        if model is not None and rule_set is not None:
            # Tuned on one model's documents: those thresholds are for that model only.
            rule_set = RuleSet(
                0, current.thresholds, {**current.by_model, model: rule_set.thresholds}
            )
        if save and rule_set is not None and actor and reason:
            saved = save_rule_set(
                conn, rule_set, actor=actor, reason=reason, expected=expected_figures(proposal)
            )
    if as_json:
        print_json(proposal_json(proposal, shown, saved))
    else:
        typer.echo(proposal_text(proposal, saved))
    if proposal.proposed is None:
        raise typer.Exit(1)


@thresholds_app.command("create")
def create(
    actor: ActorOption,
    reason: ReasonOption,
    assignments: SetOption = None,
    model: Annotated[
        str | None, typer.Option(help="The changes are for this extraction model only.")
    ] = None,
) -> None:
    """Store a new rule-set version: the current set with --set changes (not active yet)."""
    from domain.rule_sets import AssignmentError, RuleSet, with_assignments
    from pipeline.thresholds import active_rule_set, save_rule_set
    from storage.db import connect

    settings, url = with_app_database()
    with connect(url) as conn:
        current = active_rule_set(conn, settings.rules)
        try:
            changed = with_assignments(current.thresholds_for(model), assignments or [])
        except AssignmentError as exc:
            fail(str(exc), code=2)
        if model is None:
            rule_set = RuleSet(0, changed, current.by_model)
        else:
            rule_set = RuleSet(0, current.thresholds, {**current.by_model, model: changed})
        version = save_rule_set(conn, rule_set, actor=actor, reason=reason)
    print_json({"version": version, "active": False})


@thresholds_app.command("apply")
def apply(
    version: Annotated[int, typer.Argument(help="The version to activate (0: the settings').")],
    actor: ActorOption,
    reason: ReasonOption,
) -> None:
    """Activate a rule-set version: running workers judge every merge from the next one on by
    it (checked per transaction, no restart), on every partition. Audited: who, when, why."""
    from pipeline.thresholds import apply_rule_set
    from storage.db import connect
    from storage.rule_sets import UnknownRuleSetError

    _, url = with_app_database()
    with connect(url) as conn:
        try:
            activation = apply_rule_set(conn, version, actor=actor, reason=reason)
        except UnknownRuleSetError as exc:
            fail(str(exc))
    print_json(
        {
            "version": activation.version,
            "activated_by": activation.activated_by,
            "activated_at": activation.activated_at,
            "reason": activation.reason,
        }
    )


@thresholds_app.command("list")
def list_versions(as_json: JsonOption = False) -> None:
    """Every rule-set version (newest first), the active one marked, and who activated what."""
    from domain.rule_sets import SETTINGS_VERSION, describe
    from optimerge.thresholds_report import versions_json
    from storage.db import connect
    from storage.rule_sets import activations, rule_set_versions

    settings, url = with_app_database()
    with connect(url) as conn:
        versions = rule_set_versions(conn)
        history = activations(conn)
    active = history[0].version if history else SETTINGS_VERSION
    if as_json:
        report = versions_json(versions, active)
        report["settings"] = settings.rules.model_dump()
        report["activations"] = [
            {"version": a.version, "activated_by": a.activated_by,
             "activated_at": a.activated_at, "reason": a.reason}
            for a in history
        ]  # fmt: skip
        print_json(report)
        return
    mark = "*" if active == SETTINGS_VERSION else " "
    typer.echo(f"{mark} v0  settings: {describe(settings.rules)}")
    for v in versions:
        mark = "*" if v.active else " "
        typer.echo(
            f"{mark} v{v.version}  {describe(v.rule_set.thresholds)}"
            + "".join(f"; {m}: {describe(t)}" for m, t in sorted(v.rule_set.by_model.items()))
        )
        typer.echo(f"       by {v.created_by} at {v.created_at:%Y-%m-%d %H:%M}: {v.reason}")
    for a in history:
        typer.echo(f"activated v{a.version} by {a.activated_by} at {a.activated_at}: {a.reason}")
