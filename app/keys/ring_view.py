"""The key ring as people and scripts read it: `signet keys list`, `/admin/keys`,
`/keyring.json` and the `/keyring` page all render this one view, so they say the same
thing about the same key at the same instant.

Machine-readable times are RFC 3339 (`2026-12-02T20:04:20Z`) and a missing value is `null`;
the plan comes from signet.keyring.plan_ring, which reads the whole ring (a pending key moves
the active key's hand-off), not one record at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from signet.keyring import KeyPlan, KeyRecord, RotationPolicy, plan_ring

NEXT_STEP_WORDS = {"activates": "signs from", "unpublished": "unpublished at",
                   "successor_activates": "successor signs from"}


def rfc3339(value: float | None) -> str | None:
    """`2026-12-02T20:04:20Z`, or None for "not so"."""
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def key_view(record: KeyRecord, plan: KeyPlan) -> dict[str, Any]:
    """One key: what happened to it, what is planned next (`next`: {"event", "at"} or null)."""
    return {
        "kid": record.kid, "alg": record.alg, "state": record.state.value,
        "created_at": rfc3339(record.created_at), "activated_at": rfc3339(record.activated_at),
        "retiring_at": rfc3339(record.retiring_at), "retired_at": rfc3339(record.retired_at),
        "activates_at": rfc3339(plan.activates_at),
        "successor_activates_at": rfc3339(plan.successor_activates_at),
        "unpublish_at": rfc3339(plan.unpublish_at),
        "next": None if plan.next is None else {"event": plan.next.event, "at": rfc3339(plan.next.at)},
    }


def ring_view(records: Sequence[KeyRecord], policy: RotationPolicy, now: float,
              published_only: bool = False) -> list[dict[str, Any]]:
    plans = plan_ring(records, policy, now)
    return [key_view(r, plans[r.kid]) for r in records if r.published or not published_only]


def operator_view(records: Sequence[KeyRecord], policy: RotationPolicy,
                  now: float) -> list[dict[str, Any]]:
    """The CLI's `--json` and the admin API: every key, retired ones included, with the
    `created`/`activated` names those outputs always had (same RFC 3339 values)."""
    return [{**view, "created": view["created_at"], "activated": view["activated_at"]}
            for view in ring_view(records, policy, now)]


def next_words(view: dict[str, Any]) -> str:
    """The `next` column of `signet keys list`: "successor signs from 2026-...Z", or "-"."""
    step = view["next"]
    return "-" if step is None else f"{NEXT_STEP_WORDS[step['event']]} {step['at']}"
