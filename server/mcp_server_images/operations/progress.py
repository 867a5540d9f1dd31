"""How an operation tells the outside world it is still working, without knowing about MCP."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    async def step(self, message: str) -> None:
        """Something happened (request sent, still waiting)."""

    async def partial(self, index: int, total: int, data: bytes) -> None:
        """Partial image number `index` (1-based) of `total` arrived."""


class NoProgress:
    """For calls nobody watches."""

    async def step(self, message: str) -> None:
        return None

    async def partial(self, index: int, total: int, data: bytes) -> None:
        return None
