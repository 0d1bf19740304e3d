"""At most ``MAX_ORDER_CARDS`` (30) order cards per hook call; the rest are counted in one card that says so.

One order-sign with 12,000 draft orders once answered 12,000 cards (20 MB): no EHR shows that, and a
clinician cannot read it. The cards arrive sorted most severe first (critical, warning, info), so the
ones kept are the most severe. The card that stands for the rest carries the most severe indicator
among them (a contraindication is never hidden behind an ``info``), lists how many orders of which
treatment and status were left out, and links to the app, which shows the whole evaluation.

30 is an engineering default: above the 21 treatments the pathway rates, so that an order set naming
every treatment once still gets one card per order; beyond that the orders repeat treatments, and the
card panel of an EHR is full long before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from cds_hooks.cardparts import CardContext, link_to_app, new_uuid, short, source_of

__all__ = ["MAX_ORDER_CARDS", "bound_order_cards"]

MAX_ORDER_CARDS = 30
_SEVERITY = {"critical": 0, "warning": 1, "info": 2}
_READS = {"critical": "contraindicated", "warning": "not recommended or data missing", "info": "conditional option"}


def _topic(card: dict[str, Any]) -> str:
    topic = card.get("source", {}).get("topic")
    return str(topic.get("display")) if isinstance(topic, dict) and topic.get("display") else "other treatment"


def bound_order_cards(cards: Sequence[dict[str, Any]], ctx: CardContext,
                      limit: int = MAX_ORDER_CARDS) -> list[dict[str, Any]]:
    """Return at most ``limit`` of ``cards`` (sorted most severe first) plus one card for the rest, if any."""
    if len(cards) <= limit:
        return list(cards)
    kept, rest = list(cards[: limit - 1]), cards[limit - 1:]
    indicator = min((str(c.get("indicator", "info")) for c in rest), key=lambda i: _SEVERITY.get(i, 0))
    by_kind = Counter((_topic(c), str(c.get("indicator"))) for c in rest)
    lines = [f"This call holds more draft orders needing attention than one answer shows (at most {limit} "
             f"cards). {len(rest)} more, not shown as cards:", ""]
    lines += [f"- {name}: {count} order{'s' if count != 1 else ''} ({_READS.get(kind, 'see the app')})"
              for (name, kind), count in sorted(by_kind.items(), key=lambda x: (_SEVERITY.get(x[0][1], 0), x[0][0]))]
    lines += ["", "Open NELM Pathways for the whole evaluation, and review these orders before signing."]
    kept.append({
        "uuid": new_uuid(),
        "summary": short(f"{len(rest)} more draft orders need review (not shown: at most {limit} cards)"),
        "detail": "\n".join(lines),
        "indicator": indicator,
        "source": source_of(ctx, None, label="NELM Pathways"),
        "links": [link_to_app(ctx, {})],
    })
    return kept
