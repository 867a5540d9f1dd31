"""The server's one clock: every date and wall-clock time the server reads comes from here.

It is built once at start-up and passed down to whatever needs the date or the time of day: model lifecycle
(is a shutdown date past?), the spend ledger (which day and month a call counts in), job records (heartbeats and
leases other instances read), stored records (their names and `created`), and retries (a `Retry-After` date). So
a test can run the whole server on a chosen date, and nothing the server says depends on the day the suite runs.

Durations (timeouts, heartbeats, the age of a cached list) are measured with the monotonic clock and are not its
business.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


class Clock:
    """The wall clock, in UTC. Tests pass a subclass whose `now` they set."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(UTC)

    def today(self) -> date:
        """Today's date in UTC: the day shutdown dates and daily budgets are counted in."""
        return self.now().date()

    def timestamp(self) -> float:
        """Seconds since the epoch, as job records store them for other instances to compare."""
        return self.now().timestamp()


def recorded_moment(text: str) -> datetime:
    """A time as the server's records write it (ISO 8601): timezone-aware, in UTC when the text names no zone
    (sidecars write `created` without one)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
