"""One key ring record as people and scripts read it: `signet keys list` and `/admin/keys`.

Shared by the CLI and the admin API so both say the same thing about the same key.
"""

from __future__ import annotations

from datetime import UTC, datetime

from signet.keyring import KeyRecord, RotationPolicy, planned_step

_NEXT_STEP_WORDS = {"activates": "signs from", "unpublished": "unpublished at",
                    "successor_activates": "successor signs from"}


def format_time(value: float | None) -> str:
    return "-" if value is None else datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def next_step(record: KeyRecord, policy: RotationPolicy) -> str:
    step = planned_step(record, policy)
    return "-" if step is None else f"{_NEXT_STEP_WORDS[step.event]} {format_time(step.at)}"


def record_view(r: KeyRecord, policy: RotationPolicy) -> dict[str, str]:
    return {"kid": r.kid, "alg": r.alg, "state": r.state.value, "created": format_time(r.created_at),
            "activated": format_time(r.activated_at), "next": next_step(r, policy)}
