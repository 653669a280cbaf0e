"""The sweep's retry rule with a scripted runner: a point whose worker dies is retried, at most MAX_ATTEMPTS
times, one retried point in flight at a time, so an innocent point queued beside one that kills its worker every
time is not failed with it (on Dask, a dying worker fails every point queued on it with KilledWorker)."""

from __future__ import annotations

from eiesim.sweeps.executors import MAX_ATTEMPTS, run_points


class WorkerDied(Exception):
    """Stands for KilledWorker / BrokenProcessPool: not the point's own fault, so retryable."""


class OneWorker:
    """Every point in flight runs on one worker; a point in ``killers`` kills it, failing all of them at once."""

    def __init__(self, capacity: int, killers: set[int]) -> None:
        self.capacity, self.killers = capacity, killers
        self.next_handle = 0
        self.handles: dict[int, int] = {}
        self.submitted: list[int] = []

    def submit(self, i: int) -> int:
        self.next_handle += 1
        self.handles[self.next_handle] = i
        self.submitted.append(i)
        return self.next_handle

    def wait(self, handles: list[int]) -> list[tuple[int, object]]:
        points = [self.handles.pop(h) for h in handles]
        if any(i in self.killers for i in points):
            return [(h, WorkerDied(f"worker died running point {i}")) for h, i in zip(handles, points, strict=True)]
        return [(h, {"point": i}) for h, i in zip(handles, points, strict=True)]

    def retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, WorkerDied)

    def recover(self, exc: BaseException) -> None:
        pass


def _run(runner: OneWorker, todo: list[int]):
    finished: dict[int, dict] = {}
    stats = run_points(todo, runner, [str(i) for i in todo], None, finished.__setitem__, lambda i: None)
    return stats, finished


def test_an_innocent_point_beside_a_killer_is_stored_and_the_killer_fails_after_its_attempts():
    # Worked by hand, capacity 2, points 0 (kills its worker) and 1: round 1 runs {0, 1}, both fail (attempt 1
    # each) and go back to the front of the queue, the last reported first: [1, 0]. Both are retried points now,
    # so they run one at a time: 1 succeeds, 0 fails (attempt 2), 0 fails (attempt 3 = MAX_ATTEMPTS) and is
    # reported. Run together instead, 1 would have failed beside 0 three times.
    assert MAX_ATTEMPTS == 3
    runner = OneWorker(capacity=2, killers={0})
    stats, finished = _run(runner, [0, 1])
    assert list(finished) == [1]
    assert [i for i, _ in stats.failures] == [0]
    assert runner.submitted == [0, 1, 1, 0, 0]
    assert stats.retried == 3  # 0 twice, 1 once


def test_points_never_retried_still_share_the_worker():
    runner = OneWorker(capacity=2, killers=set())
    stats, finished = _run(runner, [0, 1, 2, 3])
    assert sorted(finished) == [0, 1, 2, 3] and stats.failures == [] and stats.retried == 0
    assert runner.submitted == [0, 1, 2, 3]
