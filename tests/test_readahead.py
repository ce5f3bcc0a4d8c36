"""sjrlib.readahead.ReadAhead: order, errors, bounded look-ahead, early stop."""

from __future__ import annotations

import threading
import time

import pytest

from sjrlib.readahead import ReadAhead


def test_items_arrive_in_order_and_the_end_is_the_end():
    items = ReadAhead(range(1000))
    assert list(items) == list(range(1000))
    assert list(items) == []


def test_an_error_reaches_the_consumer_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise KeyError("bad row")

    got = []
    with pytest.raises(KeyError, match="bad row"):
        for item in ReadAhead(produce()):
            got.append(item)
    assert got == [1, 2]


def test_exceptions_as_values_are_values():
    error = ValueError("I am data")
    assert list(ReadAhead([error])) == [error]


def test_the_producer_runs_at_most_depth_items_ahead():
    produced = []

    def produce():
        for i in range(100):
            produced.append(i)
            yield i

    with ReadAhead(produce(), depth=2) as items:
        assert next(items) == 0
        time.sleep(0.3)  # plenty of time to run ahead, if it could
        # item 0 taken, 2 waiting in the queue, 1 more made and blocked on the full queue
        assert len(produced) <= 4


def test_closing_early_stops_and_closes_the_producer():
    closed = threading.Event()

    def produce():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    items = ReadAhead(produce())
    assert next(items) == 0
    items.close()
    assert closed.wait(5)
    assert list(items) == []


def test_the_producer_runs_in_another_thread():
    threads = []

    def produce():
        threads.append(threading.current_thread())
        yield 1

    assert list(ReadAhead(produce())) == [1]
    assert threads and threads[0] is not threading.current_thread()
