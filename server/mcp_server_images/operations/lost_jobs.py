"""A running job whose instance stopped renewing it: how to tell, and what its record then says.

Kept apart from job_records.py (which reads jobs for get_job) so that the store's sweep, which runs right after
the start, loads no more than the store does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from ..store import JobState, Store


def is_lost(state: JobState, now: float) -> bool:
    """A running job whose instance has not renewed it within its lease: that instance died."""
    return state.status == "running" and now - state.heartbeat > state.lease


def lost_state(store: Store, state: JobState, now: float) -> JobState:
    """The record of a lost job as the sweep writes it: failed, saying why, ended now. Blocks on the store."""
    return replace(state, status="failed", error=lost_text(store, state), ended=now, lost=True)


def lost_text(store: Store, state: JobState) -> str:
    kept = store.job_images(state.id)
    stored = (
        f" The images it had stored are kept: {', '.join(r.id for r in kept)}."
        if kept
        else " It had stored no image yet."
    )
    renewed = datetime.fromtimestamp(state.heartbeat, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"Job {state.id} was lost: instance {state.instance}, which was running it, stopped renewing it at "
        f"{renewed} (lease {state.lease:.0f} s), so it will not finish.{stored} Run the call again (with a new "
        "idempotency_key, if it had one) for the rest; list_images shows what is stored."
    )
