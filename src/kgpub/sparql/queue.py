"""The queue in front of the workers: queries waiting for one, by client, served round-robin,
so one client's many slow queries cannot starve the others. Waiting costs no thread: a ticket
wakes a thread through its Event or a coroutine through its Future.

Not thread-safe by itself: QueryPool uses it under its lock, and decides the policy (how long
the queue may be, how long a query may wait, what a refusal says)."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Generic, TypeVar

W = TypeVar("W")  # what a ticket is given: a worker


@dataclass(eq=False)
class Ticket(Generic[W]):
    """A query waiting for a worker. Woken (under the pool's lock) with a worker or an error:
    a thread through its Event, a coroutine through its Future."""

    client: str
    event: threading.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future | None = None
    worker: W | None = None
    error: Exception | None = None

    def wake(self) -> bool:
        """False when nobody waits any more (its event loop is closed)."""
        if self.event is not None:
            self.event.set()
            return True
        assert self.loop is not None and self.future is not None
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # its event loop is closed
            return False
        return True


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class FairQueue(Generic[W]):
    """Tickets by client; pop() takes the oldest ticket of the client whose turn it is."""

    def __init__(self) -> None:
        self._by_client: OrderedDict[str, deque[Ticket[W]]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def clients(self) -> int:
        return len(self._by_client)

    def push(self, ticket: Ticket[W]) -> None:
        self._by_client.setdefault(ticket.client, deque()).append(ticket)
        self._count += 1

    def pop(self) -> Ticket[W]:
        """The next ticket, one client after another (round-robin)."""
        client, queue = next(iter(self._by_client.items()))
        ticket = queue.popleft()
        self._count -= 1
        if queue:
            self._by_client.move_to_end(client)  # the next client's turn
        else:
            del self._by_client[client]
        return ticket

    def remove(self, ticket: Ticket[W]) -> None:
        """Take a ticket out (its wait ran out, or it was cancelled); no-op if it is not in."""
        queue = self._by_client.get(ticket.client)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            self._count -= 1
            if not queue:
                del self._by_client[ticket.client]

    def evict_for(self, client: str) -> Ticket[W] | None:
        """When the queue is full: if another client holds clearly more of it than this one
        (two tickets more or beyond), its newest ticket, taken out; else None."""
        mine = len(self._by_client.get(client, ()))
        victim = max(self._by_client, key=lambda c: len(self._by_client[c]))
        if len(self._by_client[victim]) <= mine + 1:
            return None
        self._count -= 1
        return self._by_client[victim].pop()

    def drain(self) -> list[Ticket[W]]:
        """Every ticket, the queue left empty."""
        tickets = [t for queue in self._by_client.values() for t in queue]
        self._by_client.clear()
        self._count = 0
        return tickets
