"""Iterate in a worker thread, one item ahead of the consumer.

Used to overlap the two halves of a large import: while the store inserts one validated block
of reviews, the next block is read and validated. Both halves spend much of their time in code
that releases the GIL (Arrow's CSV parser and compute kernels; SQLite's ``sqlite3_step``), so on
two cores a 100,000-review import takes about a quarter less wall time than one after the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


class ReadAhead(Generic[T]):
    """An iterator over ``iterable`` whose items are produced in a worker thread.

    At most ``depth`` items wait between producer and consumer (memory stays bounded). An
    exception raised by ``iterable`` reaches the consumer at the point where it was raised, with
    its traceback. Use as a context manager, or call :meth:`close`: a consumer that stops early
    stops the producer after the item it is working on, and waits for it.

    ``iterable`` is iterated in the worker thread only, so it must not use objects bound to the
    consumer's thread (a SQLite connection, say).
    """

    def __init__(self, iterable: Iterable[T], depth: int = 1, name: str = "read-ahead"):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._produce, args=(iterable,), name=name,
                                        daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, iterable: Iterable[T]) -> None:
        iterator = iter(iterable)
        try:
            for item in iterator:
                if not self._put(item):
                    break
            else:
                self._put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Raised(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None and self._stop.is_set():
                close()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._finish()
            raise StopIteration
        if isinstance(item, _Raised):
            self._finish()
            raise item.exc
        return item

    def _finish(self) -> None:
        self._done = True
        self._thread.join()

    def close(self) -> None:
        """Stop the producer (after its current item) and wait for it."""
        if self._done:
            return
        self._done = True
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
