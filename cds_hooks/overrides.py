"""Order-select → order-sign: an alert overridden with a reason is not raised again for the same draft order.

The HL7 guidance on coordinating order-select and order-sign asks that a clinician who has already
overridden an alert for an order is not stopped again by the same alert when signing it. Every
critical card on a draft order is remembered in the shared store (``order_alert``, so any replica
finds it) under a keyed hash of:

- the calling client (the JWT issuer): an override in one EHR never silences another's alert;
- the patient;
- the draft order's id (``ServiceRequest/…``, ``MedicationRequest/…``): what the EHR keeps stable from
  selection to signing; a draft without an id cannot be recognised and is always alerted;
- the option the order maps to: an order edited into another option is a new order;

and the alert itself (status and the criteria that decided it): new data that changes why an option is
contraindicated raises the alert again. When ``overridden`` feedback (CDS Hooks 2.0 has no user field in
feedback; the user is the hook's ``userId`` that the overridden card was shown to) arrived within
:data:`OVERRIDE_WINDOW`, the signing answer carries an ``info`` card saying who overrode it, when and
why, instead of the critical card. If the store cannot be read, the critical card stands.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.cardparts import md, new_uuid, short
from cds_hooks.store import OrderAlert, Store

__all__ = ["OVERRIDE_WINDOW", "apply_overrides", "order_key"]

log = logging.getLogger("nelm.cds.overrides")

# Engineering default: an override counts for signing within a day of being given (a select → sign session).
OVERRIDE_WINDOW = dt.timedelta(hours=24)


def order_key(issuer: str, patient_id: str, draft_order: str, modality: str, secret: str) -> str:
    """Return the keyed hash (HMAC-SHA256, hex) naming one draft order of one patient in one client."""
    message = "\x1f".join((issuer, patient_id, draft_order, modality)).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _overridden_card(card: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
    order = dict(card["extension"]["org.nelm-cds.order"])
    topic = card["source"].get("topic") or {}
    name = str(topic.get("display") or order.get("modality") or "This order")
    reason = found.get("override_reason_display") or found.get("override_reason_code") or "no reason given"
    when = found["outcome_timestamp"]
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if isinstance(when, dt.datetime) else str(when)
    where = "at order selection" if str(found.get("service_id", "")).endswith("order-select") else "earlier"
    who = found.get("user_ref") or "the user of the ordering session (the EHR sent no user id)"
    lines = [f"**{md(name)}: the contraindication was overridden {where}**; it is not raised again for this "
             "draft order.", "",
             f"- Overridden by: {md(who)}",
             f"- When: {stamp}",
             f"- Reason: {md(reason)}"]
    if found.get("user_comment"):
        lines.append(f"- Comment: {md(found['user_comment'])}")
    first = card["detail"].split("\n", 1)[0]
    lines += ["", f"The alert was: {first}"]
    order["overridden"] = {"card": found.get("card_uuid"), "at": stamp,
                           "reason": {k: found[f"override_reason_{k}"] for k in ("system", "code", "display")
                                      if found.get(f"override_reason_{k}")}}
    extension = {**card.get("extension", {}), "org.nelm-cds.order": order}
    return {
        "uuid": new_uuid(),
        "summary": short(f"{name}: contraindication overridden {where} ({reason})"),
        "detail": "\n".join(lines),
        "indicator": "info",
        "source": card["source"],
        "links": card.get("links", []),
        "extension": extension,
    }


def apply_overrides(cards: Sequence[dict[str, Any]], *, store: Store, service_id: str, hook: str, issuer: str,
                    patient_id: str, user_id: str | None, secret: str, now: dt.datetime) -> list[dict[str, Any]]:
    """Return ``cards`` with each critical order card already overridden replaced by an info card (order-sign).

    Every critical order card that stays is remembered, so that an override of it silences it later.
    """
    out: list[dict[str, Any]] = []
    remember: list[OrderAlert] = []
    for card in cards:
        order = (card.get("extension") or {}).get("org.nelm-cds.order") or {}
        draft = order.get("draftOrder")
        if card.get("indicator") != "critical" or not draft:
            out.append(card)
            continue
        key = order_key(issuer, patient_id, str(draft), str(order.get("modality")), secret)
        alert = str(order.get("alert"))
        if hook == "order-sign":
            try:
                found = store.override_of(key, alert, now - OVERRIDE_WINDOW)
            except SQLAlchemyError as exc:
                log.error("override look-up failed, the alert stands: %s", type(exc).__name__)
                found = None
            if found is not None:
                out.append(_overridden_card(card, found))
                continue
        remember.append(OrderAlert(service_id=service_id, card_uuid=str(card["uuid"]), order_key=key, alert=alert,
                                   user_ref=user_id))
        out.append(card)
    try:
        store.remember_alerts(remember)
    except SQLAlchemyError as exc:
        log.error("order alerts not remembered: %s", type(exc).__name__)
    return out
