"""A virtual clock: sleeping advances it at once, so long retry waits cost no real time."""

from dataclasses import dataclass, field


@dataclass
class VirtualClock:
    """Monotonic seconds that move only when something sleeps (or a test advances them)."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        """The current time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` and remember the wait."""
        self.slept.append(seconds)
        self.now += seconds
