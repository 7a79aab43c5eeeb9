"""/ops/thresholds/: the flag rules' thresholds in the operator console (operators and admins
read it; admins store and activate versions) (docs/contract.md#rule-sets)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.rule_sets import RuleSet
from domain.thresholds import RuleThresholds
from pipeline.thresholds import (
    Proposal,
    active_rule_set,
    apply_rule_set,
    expected_figures,
    load_cases,
    recommend_thresholds,
    save_rule_set,
)
from schemas.events import Clock
from storage.history import Scope
from storage.rule_sets import UnknownRuleSetError, activations, rule_set_versions
from webapp import csrf
from webapp.auth import require
from webapp.context import ctx, db
from webapp.render import error, render
from webapp.roles import Permission
from webapp.thresholds_view import thresholds_view

DEFAULT_TARGET = 0.12
DEFAULT_MAX_FALSE_POSITIVE = 0.10
DEFAULT_DAYS = 30


def _number(raw: Any, default: float, low: float, high: float) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return default
    return value if low <= value <= high else default


def _query(source: Any) -> tuple[float, float, int]:
    target = _number(source.get("target"), DEFAULT_TARGET, 0.0, 1.0)
    max_fp = _number(source.get("max_fp"), DEFAULT_MAX_FALSE_POSITIVE, 0.0, 1.0)
    days = int(_number(source.get("days"), DEFAULT_DAYS, 0, 3650))
    return target, max_fp, days


def _propose(
    conn: psycopg.Connection,
    settings_rules: RuleThresholds,
    clock: Clock,
    target: float,
    max_fp: float,
    days: int,
) -> tuple[RuleSet, Proposal]:
    active = active_rule_set(conn, settings_rules)
    scope = Scope(since=clock() - timedelta(days=days) if days else None)
    proposal = recommend_thresholds(
        load_cases(conn, scope), active, target=target, max_false_positive=max_fp
    )
    return active, proposal


def _page_data(
    conn: psycopg.Connection,
    settings_rules: RuleThresholds,
    clock: Clock,
    target: float,
    max_fp: float,
    days: int,
) -> tuple[Any, ...]:
    active, proposal = _propose(conn, settings_rules, clock, target, max_fp, days)
    return active, rule_set_versions(conn), activations(conn), proposal


async def thresholds_page(request: Request) -> Response:
    user = require(request, Permission.VIEW_OPS)
    context = ctx(request)
    target, max_fp, days = _query(request.query_params)
    active, versions, history, proposal = await db(
        request, _page_data, context.settings.rules, context.clock, target, max_fp, days
    )
    return render(
        request,
        "thresholds.html",
        {
            "view": thresholds_view(active, versions, history, proposal),
            "days": days,
            "can_manage_rules": user.can(Permission.MANAGE_RULE_SETS),
            "notice": request.query_params.get("notice"),
        },
    )


def _back(notice: str, target: float, max_fp: float, days: int) -> Response:
    query = urlencode({"target": target, "max_fp": max_fp, "days": days, "notice": notice})
    return RedirectResponse(f"/ops/thresholds/?{query}", status_code=303)


def _reason(form: Any) -> str:
    return str(form.get("reason", "")).strip()[:500]


async def save_recommendation(request: Request) -> Response:
    user = require(request, Permission.MANAGE_RULE_SETS)
    form = await request.form()
    csrf.check(request.session, form.get(csrf.FORM_FIELD))
    context = ctx(request)
    target, max_fp, days = _query(form)
    reason = _reason(form)
    if not reason:
        return error(request, 422, "A reason is needed", "Say why this version is made.")

    def save(conn: psycopg.Connection) -> int | None:
        _, proposal = _propose(conn, context.settings.rules, context.clock, target, max_fp, days)
        rule_set = proposal.rule_set()
        if rule_set is None:
            return None
        return save_rule_set(
            conn,
            rule_set,
            actor=user.name,
            reason=reason,
            expected=expected_figures(proposal),
            clock=context.clock,
        )

    version = await db(request, save)
    if version is None:
        return error(
            request, 409, "Nothing to save", "The reviewed history supports no recommendation."
        )
    return _back(f"Saved as version {version} (not active yet).", target, max_fp, days)


async def apply_version(request: Request) -> Response:
    user = require(request, Permission.MANAGE_RULE_SETS)
    form = await request.form()
    csrf.check(request.session, form.get(csrf.FORM_FIELD))
    target, max_fp, days = _query(form)
    reason = _reason(form)
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        return error(request, 422, "No version", "Choose the version to activate.")
    if not reason:
        return error(request, 422, "A reason is needed", "Say why this version is activated.")
    try:
        await db(
            request,
            apply_rule_set,
            version,
            actor=user.name,
            reason=reason,
            clock=ctx(request).clock,
        )
    except UnknownRuleSetError as exc:
        return error(request, 404, "No such version", str(exc))
    return _back(
        f"Version {version} is active: workers judge by it from their next batch.",
        target,
        max_fp,
        days,
    )
