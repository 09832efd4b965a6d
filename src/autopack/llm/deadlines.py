"""The timeouts of one streamed call: connect and idle on the HTTP client, and an overall cap.

Both provider clients take their HTTP timeouts from :func:`http_timeouts`.

The idle timeout (the HTTP read timeout) catches a silent server; a server that keeps sending
keep-alive pings, or trickles text forever, never trips it. A watchdog timer closes the
response when the cap passes, which ends the blocked read; the caller then reports a timeout.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx2

from autopack.llm.types import StreamTimeouts


def stream_timeouts(timeouts: StreamTimeouts | None, timeout: float | None) -> StreamTimeouts:
    """The timeouts given, else ``timeout`` seconds as idle timeout and cap, else the defaults."""
    if timeouts is not None:
        return timeouts
    if timeout is not None:
        return StreamTimeouts(idle_seconds=timeout, total_seconds=timeout)
    return StreamTimeouts()


def http_timeouts(timeouts: StreamTimeouts) -> httpx2.Timeout:
    """The HTTP client's timeouts: connect, and idle between chunks for read and write."""
    idle = timeouts.idle_seconds
    return httpx2.Timeout(
        idle, connect=timeouts.connect_seconds, read=idle, write=idle, pool=timeouts.connect_seconds
    )


@dataclass
class Watchdog:
    """Whether the cap passed (and the stream was closed because of it)."""

    fired: bool = False


@contextmanager
def capped(seconds: float, close: Callable[[], None]) -> Iterator[Watchdog]:
    """Call ``close`` if the block is still running after ``seconds``."""
    state = Watchdog()

    def fire() -> None:
        state.fired = True
        close()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    finally:
        timer.cancel()
