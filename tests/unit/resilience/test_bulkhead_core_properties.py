"""Whatever callers do to it, the bulkhead core never overbooks, never leaks a slot, and
serves its queue in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.clock import FakeClock
from meshkit.resilience.bulkhead import BulkheadCore, Waiter

steps = st.lists(
    st.one_of(
        st.just(("enter", 0)),
        st.just(("leave", 0)),
        st.just(("queue", 0)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("wait"), st.integers(0, 3)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(
    steps=steps,
    max_concurrent=st.integers(1, 3),
    max_queued=st.integers(0, 4),
    timed=st.booleans(),
)
def test_slots_are_conserved_and_handed_out_in_order(
    steps: list[tuple[str, int]], max_concurrent: int, max_queued: int, timed: bool
) -> None:
    clock = FakeClock()
    core = BulkheadCore(
        max_concurrent, max_queued, 2.0 if timed else None, name="p", clock=clock, events=None
    )
    holders = 0  # callers that own a slot, as the callers count them
    served: list[int] = []
    waiters: list[Waiter] = []
    queued_order: list[int] = []  # ids of waiters in the order they joined

    def on_slot(n: int) -> None:
        nonlocal holders
        holders += 1
        served.append(n)

    for n, (step, arg) in enumerate(steps):
        if step == "enter":
            holders += core.try_enter()
        elif step == "leave" and holders:
            holders -= 1
            core.leave()
        elif step == "queue":
            waiter = core.queue(lambda n=n: on_slot(n))  # type: ignore[misc]
            if waiter is not None:
                waiters.append(waiter)
                if waiter.queued:
                    queued_order.append(n)
        elif step == "cancel" and waiters:
            waiters[arg % len(waiters)].cancel()
        elif step == "wait":
            clock.advance(float(arg))
        assert core.active == holders
        assert core.active <= max_concurrent
        assert core.queued <= max_queued
        assert core.queued == sum(w.queued for w in waiters)
        if core.queued:
            assert core.active == max_concurrent  # a free slot never sits beside a queue
    # whoever was served from the queue was served in the order it joined
    from_queue = [n for n in served if n in queued_order]
    assert from_queue == sorted(from_queue)
