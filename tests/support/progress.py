"""The progress notifications one call receives, as a client shows them."""

from __future__ import annotations

from tests.support.waiting import until


class ProgressLog:
    """The progress notifications one call received, in order; a test can wait for one to arrive."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []

    async def record(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))

    @property
    def messages(self) -> list[str]:
        return [message or "" for _, _, message in self.seen]

    def count(self, prefix: str) -> int:
        return sum(message.startswith(prefix) for message in self.messages)

    async def until(self, prefix: str, count: int = 1) -> None:
        await until(lambda: self.count(prefix) >= count, f"{count} progress message(s) starting {prefix!r}")

    def assert_increasing(self) -> None:
        values = [progress for progress, _, _ in self.seen]
        assert values == sorted(values) and len(set(values)) == len(values), values
