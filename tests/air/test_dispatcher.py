"""EventDispatcher: order, duplicates, removal, capture, weak references, coroutines, errors."""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import warnings
from typing import Any

import pytest
from air_helpers import echo, open_client, port_of, run

import airsocket
from airsocket import ArgumentError, Event, EventDispatcher, WebSocket, WebSocketEvent


def recorder(calls: list[str], name: str) -> Any:
    return lambda event: calls.append(name)


def test_higher_priority_runs_first_and_equal_priorities_in_registration_order() -> None:
    dispatcher = EventDispatcher()
    calls: list[str] = []
    dispatcher.add_event_listener("x", recorder(calls, "a0"))
    dispatcher.add_event_listener("x", recorder(calls, "b5"), priority=5)
    dispatcher.add_event_listener("x", recorder(calls, "c0"))
    dispatcher.add_event_listener("x", recorder(calls, "d-1"), priority=-1)
    dispatcher.add_event_listener("x", recorder(calls, "e5"), priority=5)
    assert dispatcher.dispatch_event(Event("x"))
    assert calls == ["b5", "e5", "a0", "c0", "d-1"]


def test_adding_the_same_listener_twice_is_a_no_op() -> None:
    dispatcher = EventDispatcher()
    calls: list[str] = []
    first = recorder(calls, "first")
    dispatcher.add_event_listener("x", first)
    dispatcher.add_event_listener("x", recorder(calls, "second"), priority=1)
    dispatcher.add_event_listener("x", first, priority=10)  # ignored: priority unchanged
    dispatcher.dispatch_event(Event("x"))
    assert calls == ["second", "first"]


def test_the_same_bound_method_is_the_same_listener() -> None:
    class Handler:
        def __init__(self) -> None:
            self.count = 0

        def on(self, event: Event) -> None:
            self.count += 1

    handler = Handler()
    dispatcher = EventDispatcher()
    dispatcher.add_event_listener("x", handler.on)
    dispatcher.add_event_listener("x", handler.on)
    dispatcher.dispatch_event(Event("x"))
    assert handler.count == 1
    dispatcher.remove_event_listener("x", handler.on)
    assert not dispatcher.has_event_listener("x")


def test_remove_event_listener() -> None:
    dispatcher = EventDispatcher()
    calls: list[str] = []
    listener = recorder(calls, "a")
    dispatcher.remove_event_listener("x", listener)  # not registered: no-op
    dispatcher.add_event_listener("x", listener)
    dispatcher.remove_event_listener("y", listener)  # another type: no-op
    dispatcher.remove_event_listener("x", listener, use_capture=True)  # another phase: no-op
    dispatcher.dispatch_event(Event("x"))
    dispatcher.remove_event_listener("x", listener)
    dispatcher.dispatch_event(Event("x"))
    assert calls == ["a"]
    assert not dispatcher.has_event_listener("x")


def test_listeners_added_or_removed_during_a_dispatch_count_from_the_next_one() -> None:
    dispatcher = EventDispatcher()
    calls: list[str] = []
    late = recorder(calls, "late")
    doomed = recorder(calls, "doomed")

    def first(event: Event) -> None:
        calls.append("first")
        dispatcher.add_event_listener("x", late, priority=-5)
        dispatcher.remove_event_listener("x", doomed)

    dispatcher.add_event_listener("x", first, priority=1)
    dispatcher.add_event_listener("x", doomed)
    dispatcher.dispatch_event(Event("x"))
    assert calls == ["first", "doomed"]
    calls.clear()
    dispatcher.dispatch_event(Event("x"))
    assert calls == ["first", "late"]


def test_capture_listeners_are_kept_but_a_flat_target_has_no_capture_phase() -> None:
    dispatcher = EventDispatcher()
    calls: list[str] = []
    listener = recorder(calls, "capture")
    dispatcher.add_event_listener("x", listener, use_capture=True)
    assert dispatcher.has_event_listener("x") and dispatcher.will_trigger("x")
    dispatcher.dispatch_event(Event("x"))
    assert calls == []
    dispatcher.add_event_listener("x", listener)  # the target phase: a separate registration
    dispatcher.dispatch_event(Event("x"))
    assert calls == ["capture"]
    dispatcher.remove_event_listener("x", listener)
    assert dispatcher.has_event_listener("x")
    dispatcher.remove_event_listener("x", listener, use_capture=True)
    assert not dispatcher.has_event_listener("x")


def test_dispatch_sets_target_and_returns_false_when_the_default_was_prevented() -> None:
    dispatcher = EventDispatcher()
    seen: list[Event] = []
    dispatcher.add_event_listener("x", seen.append)
    event = Event("x")
    assert dispatcher.dispatch_event(event) is True
    assert seen == [event] and event.target is dispatcher and event.current_target is dispatcher
    dispatcher.add_event_listener("x", lambda e: e.prevent_default())
    assert dispatcher.dispatch_event(Event("x", cancelable=True)) is False
    assert dispatcher.dispatch_event(Event("x", cancelable=False)) is True
    assert dispatcher.dispatch_event(Event("nobody listens")) is True


def test_has_event_listener_and_will_trigger() -> None:
    dispatcher = EventDispatcher()
    assert not dispatcher.has_event_listener("x") and not dispatcher.will_trigger("x")
    dispatcher.add_event_listener("x", print)
    assert dispatcher.has_event_listener("x") and dispatcher.will_trigger("x")
    assert not dispatcher.has_event_listener("y")


def test_argument_errors() -> None:
    dispatcher = EventDispatcher()
    with pytest.raises(ArgumentError):
        dispatcher.add_event_listener("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        dispatcher.add_event_listener(1, print)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        dispatcher.add_event_listener("x", print, priority="high")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        dispatcher.dispatch_event("x")  # type: ignore[arg-type]


def test_a_weak_listener_does_not_keep_its_function_alive() -> None:
    dispatcher = EventDispatcher()
    calls: list[str] = []

    def make() -> Any:
        def listener(event: Event) -> None:
            calls.append("weak")

        return listener

    listener = make()
    dispatcher.add_event_listener("x", listener, use_weak_reference=True)
    dispatcher.dispatch_event(Event("x"))
    del listener
    gc.collect()
    dispatcher.dispatch_event(Event("x"))
    assert calls == ["weak"]
    assert not dispatcher.has_event_listener("x")


def test_a_weak_bound_method_does_not_keep_its_object_alive() -> None:
    calls: list[str] = []

    class Handler:
        def on(self, event: Event) -> None:
            calls.append("method")

    dispatcher = EventDispatcher()
    handler = Handler()
    dispatcher.add_event_listener("x", handler.on, use_weak_reference=True)
    gc.collect()
    dispatcher.dispatch_event(Event("x"))  # alive while we hold the object
    del handler
    gc.collect()
    dispatcher.dispatch_event(Event("x"))
    assert calls == ["method"]
    assert not dispatcher.has_event_listener("x")


def test_a_strong_listener_is_kept_alive() -> None:
    dispatcher = EventDispatcher()
    calls: list[str] = []
    dispatcher.add_event_listener("x", lambda event: calls.append("strong"))
    gc.collect()
    dispatcher.dispatch_event(Event("x"))
    assert calls == ["strong"]


def test_a_builtin_that_cannot_be_weakly_referenced_is_held_strongly() -> None:
    dispatcher = EventDispatcher()
    seen: list[Event] = []
    dispatcher.add_event_listener("x", seen.append, use_weak_reference=True)
    gc.collect()
    dispatcher.dispatch_event(Event("x"))
    assert len(seen) == 1


def test_a_weak_builtin_method_follows_its_object() -> None:
    dispatcher = EventDispatcher()
    seen: collections.deque[Event] = collections.deque()
    dispatcher.add_event_listener("x", seen.append, use_weak_reference=True)
    dispatcher.add_event_listener("x", seen.append, use_weak_reference=True)  # the same one
    gc.collect()
    dispatcher.dispatch_event(Event("x"))
    assert len(seen) == 1
    del seen
    gc.collect()
    assert not dispatcher.has_event_listener("x")


def test_a_failing_listener_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = EventDispatcher()
    calls: list[str] = []

    def failing(event: Event) -> None:
        raise RuntimeError("boom")

    dispatcher.add_event_listener("x", failing, priority=1)
    dispatcher.add_event_listener("x", recorder(calls, "next"))
    with caplog.at_level(logging.ERROR, logger="airsocket"):
        assert dispatcher.dispatch_event(Event("x"))
    assert calls == ["next"]
    assert "boom" in caplog.text and "'x'" in caplog.text


def test_a_coroutine_listener_runs_as_a_task_after_the_dispatch() -> None:
    async def main() -> list[str]:
        dispatcher = EventDispatcher()
        calls: list[str] = []

        async def listener(event: Event) -> None:
            calls.append("started")
            await asyncio.sleep(0)
            calls.append(f"finished {event.type}")

        dispatcher.add_event_listener("x", listener)
        dispatcher.dispatch_event(Event("x"))
        calls.append("dispatched")
        for _ in range(5):
            await asyncio.sleep(0)
        return calls

    assert run(main()) == ["dispatched", "started", "finished x"]


def test_a_failing_coroutine_listener_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        dispatcher = EventDispatcher()

        async def failing(event: Event) -> None:
            raise RuntimeError("async boom")

        dispatcher.add_event_listener("x", failing)
        dispatcher.dispatch_event(Event("x"))
        for _ in range(5):
            await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR, logger="airsocket"):
        run(main())
    assert "async boom" in caplog.text


def test_a_coroutine_listener_without_a_loop_is_logged_not_leaked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = EventDispatcher()

    async def listener(event: Event) -> None:
        raise AssertionError("never runs")

    dispatcher.add_event_listener("x", listener)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        with caplog.at_level(logging.ERROR, logger="airsocket"):
            dispatcher.dispatch_event(Event("x"))
        gc.collect()
    assert "needs a running event loop" in caplog.text


def test_a_failing_listener_does_not_break_the_socket(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with airsocket.serve(echo, "127.0.0.1", 0) as server:
            ws, recorder = await open_client(f"ws://127.0.0.1:{port_of(server)}/")

            def failing(event: WebSocketEvent) -> None:
                raise ValueError(f"cannot handle {event.string_data}")

            ws.add_event_listener(WebSocketEvent.DATA, failing, priority=1)
            ws.send_message(WebSocket.fmtTEXT, "one")
            ws.send_message(WebSocket.fmtTEXT, "two")
            await recorder.wait("websocketData", 2)
            assert [e.string_data for e in recorder.of("websocketData")] == ["one", "two"]
            assert ws.connected
            ws.close()

    with caplog.at_level(logging.ERROR, logger="airsocket"):
        run(main())
    assert "cannot handle one" in caplog.text and "cannot handle two" in caplog.text


def test_priorities_order_the_listeners_of_a_real_connection() -> None:
    async def main() -> None:
        async with airsocket.serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket()
            calls: list[str] = []
            connected = asyncio.Event()
            ws.add_event_listener("connect", lambda e: calls.append("low"), priority=-1)
            ws.add_event_listener("connect", lambda e: calls.append("high"), priority=3)
            ws.add_event_listener("connect", lambda e: connected.set(), priority=-2)
            ws.connect(f"ws://127.0.0.1:{port_of(server)}/")
            await asyncio.wait_for(connected.wait(), 10)
            assert calls == ["high", "low"]
            ws.close()

    run(main())
