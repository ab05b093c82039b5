"""The inference thread and its bounded queue. Requests wait in the queue (a full queue refuses the next one with
Busy, which the app answers 429 with Retry-After); the thread takes the oldest request and, with it, the waiting
requests of the same model and options up to `max_batch` images, runs them as one batch and hands each its part."""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence


class Busy(Exception):
    """The queue is full; `retry_after` seconds is the wait the server suggests."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy: {retry_after} s until it can take this request")
        self.retry_after = retry_after


@dataclass
class Job:
    key: Hashable  # requests with equal keys may run in one batch
    items: Sequence[Any]
    future: Future = field(default_factory=Future)


class Worker:
    """One thread running `run(key, [items of each job]) -> [result or exception of each job]` over the queued jobs."""

    def __init__(self, run: Callable[[Hashable, list[Sequence[Any]]], list[Any]], max_queue: int = 32,
                 max_batch: int = 16) -> None:
        self.run, self.max_queue, self.max_batch = run, max_queue, max_batch
        self.queue: deque[Job] = deque()
        self.lock = threading.Condition()
        self.seconds_per_job = 0.1  # a running mean, for Retry-After
        self.batches = self.jobs = 0
        threading.Thread(target=self._loop, name="foveal-inference", daemon=True).start()

    def submit(self, key: Hashable, items: Sequence[Any]) -> Future:
        with self.lock:
            if len(self.queue) >= self.max_queue:
                raise Busy(max(1, round(len(self.queue) * self.seconds_per_job)))
            job = Job(key, items)
            self.queue.append(job)
            self.lock.notify()
        return job.future

    @property
    def waiting(self) -> int:
        return len(self.queue)

    def _take(self) -> list[Job]:
        """The oldest job and the waiting ones that may join its batch; the others keep their places."""
        with self.lock:
            while not self.queue:
                self.lock.wait()
            first = self.queue.popleft()
            batch, size, others = [first], len(first.items), deque()
            while self.queue:
                job = self.queue.popleft()
                if job.key == first.key and size + len(job.items) <= self.max_batch:
                    batch.append(job)
                    size += len(job.items)
                else:
                    others.append(job)
            self.queue.extendleft(reversed(others))
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            start = time.perf_counter()
            try:
                results = self.run(batch[0].key, [job.items for job in batch])
                for job, result in zip(batch, results):  # an exception as a result fails that job alone
                    if isinstance(result, BaseException):
                        job.future.set_exception(result)
                    else:
                        job.future.set_result(result)
            except BaseException as exc:  # handed to each request, never raised in this thread
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
            took = (time.perf_counter() - start) / len(batch)
            self.seconds_per_job = 0.8 * self.seconds_per_job + 0.2 * took
            self.batches, self.jobs = self.batches + 1, self.jobs + len(batch)
