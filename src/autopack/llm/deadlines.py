"""The overall cap on one streamed call, enforced even when the stream never goes quiet.

The idle timeout (the HTTP read timeout) catches a silent server; a server that keeps sending
keep-alive pings, or trickles text forever, never trips it. A watchdog timer closes the
response when the cap passes, which ends the blocked read; the caller then reports a timeout.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


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
