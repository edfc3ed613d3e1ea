"""预警纠错: the queue of cards, one card's page, and the actions people take on it.

Every action is a POST form with the session's CSRF token, checked against the role and the
card's state (:mod:`hub.web.cardactions`), applied by the engine's provider (``act``), audited
(``card.<action>``) and announced on the live stream (``card.updated``). A department user sees
and acts on its own department's cards only: the card is looked up with the user's scope first,
so another department's card is a 404, exactly as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import Conflict, NotFound
from werkzeug.wrappers import Response

from hub.engine.cards import InvalidTransition
from hub.web import cardactions, filters
from hub.web.access import CASE_READERS, allow
from hub.web.audit import audit_action
from hub.web.blueprints.supervision import paging, placeholder
from hub.web.db import get_db
from hub.web.language import gettext
from hub.web.pagination import PageRequest
from hub.web.queries.supervision import NotAvailable
from hub.web.state import web_state

bp = Blueprint("cards", __name__)
CARDS_PER_PAGE = 30


def find_card(card_id: str) -> Mapping[str, Any] | None:
    """The card as the caller may see it (None if absent or another department's)."""
    return web_state().supervision.card(get_db(), card_id, g.principal.dept_scope)


def apply_action(card: Mapping[str, Any], action: str, note: str) -> Mapping[str, Any]:
    """Check, apply, audit and announce ``action``; returns the card after it.

    Raises :class:`cardactions.ActionRefused` (400), :class:`werkzeug.exceptions.Conflict` when the
    engine refuses the step (the card moved meanwhile), :class:`NotFound` if the card vanished.
    """
    state = web_state()
    principal = g.principal
    cardactions.check(card, action, principal.role, note)
    card_id = str(card["card_id"])
    try:
        after = state.supervision.act(card_id, action, principal.user.username, note.strip(), state.clock())
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from None
    except LookupError:
        raise NotFound(f"no card {card_id!r}") from None
    if hasattr(after, "to_json"):  # an engine Card rather than its JSON
        after = after.to_json()
    after = dict(after) if after is not None else dict(card)
    audit_action(f"card.{action}", card_id, {
        "note": note.strip(), "before": card.get("state"), "after": after.get("state"),
        "case_id": card.get("case_id"), "dept_code": card.get("dept_code"),
    })
    state.bus.publish("card.updated", {
        "card_id": card_id, "state": after.get("state"), "level": after.get("level", card.get("level")),
        "dept_code": card.get("dept_code"), "case_id": card.get("case_id"), "action": action,
    })
    return after


#: Filters that keep the queue on its default tab (what needs action); any other filter (a link from
#: the rankings: ``dept rule month standing``, a case's cards, a state) opens on all cards.
DEFAULT_TAB_KEEPS = frozenset({"dept", "level"})
#: Tabs whose size the queue shows beside their name (what the monitoring room works through).
COUNTED_TABS = ("action", "supervise", "rectify", "appeal")


def queue_tab(chosen: dict[str, str]) -> str:
    """The tab the queue shows: the one asked for; else what needs action, unless other filters
    were given (then all cards, as those filters ask)."""
    if "tab" in chosen:
        return chosen["tab"]
    return "action" if set(chosen) <= DEFAULT_TAB_KEEPS else "all"


@bp.get("/cards")
@allow(*CASE_READERS)
def queue() -> str:
    state = web_state()
    chosen = filters.parse(filters.CARD_FILTERS, request.args)
    tab = queue_tab(chosen)
    asked = {**chosen, "tab": tab}
    conn, scope = get_db(), g.principal.dept_scope
    try:
        result = state.supervision.alerts(conn, asked, scope, paging(CARDS_PER_PAGE))
        base = {k: v for k, v in chosen.items() if k in DEFAULT_TAB_KEEPS}
        counts = {t: state.supervision.alerts(conn, {**base, "tab": t}, scope, PageRequest(1, 1)).total
                  for t in COUNTED_TABS}  # fmt: skip
    except NotAvailable:
        return placeholder("cards.title")
    return render_template(
        "cards.html", page=result, chosen=chosen, tab=tab, tabs=filters.CARD_TABS, counts=counts,
        levels=filters.CARD_LEVELS, states=filters.CARD_STATES, rules=[f"R{i}" for i in range(1, 12)],
        department_user=scope is not None,
    )


@bp.get("/cards/<card_id>")
@allow(*CASE_READERS)
def card(card_id: str) -> tuple[str, int] | str:
    try:
        found = find_card(card_id)
    except NotAvailable:
        return placeholder("cards.title")
    if found is None:
        abort(404)
    return _card_page(found)


def _card_page(found: Mapping[str, Any], status: int = 200, note: str = "") -> tuple[str, int]:
    role = g.principal.role
    html = render_template(
        "card.html", card=dict(found), actions=cardactions.offered(found, role), specs=cardactions.ACTIONS,
        note=note, note_max=cardactions.NOTE_MAX,
    )
    return html, status


@bp.post("/cards/<card_id>/action")
@allow(*cardactions.ACTORS)
def act(card_id: str) -> Response | tuple[str, int]:
    found = find_card(card_id)
    if found is None:
        abort(404)
    action = request.form.get("action", "")
    note = request.form.get("note", "")
    try:
        apply_action(found, action, note)
    except cardactions.ActionRefused as exc:
        flash(gettext(exc.key), "error")
        return _card_page(found, 400, note)
    except Conflict:
        flash(gettext("cards.error_state"), "error")
        fresh = find_card(card_id) or found
        return _card_page(fresh, 409, note)
    flash(gettext("cards.done", action=gettext(f"cards.action.{action}")), "info")
    return redirect(url_for("cards.card", card_id=card_id))
