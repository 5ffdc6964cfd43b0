"""Tests of airsocket.protocol.keepalive: timing decisions at chosen times, ping bookkeeping."""

from __future__ import annotations

import pytest

from airsocket import InvalidState
from airsocket.protocol.keepalive import Keepalive, Pings


class TestKeepalive:
    def test_disabled(self) -> None:
        keepalive = Keepalive(None, None, now=0.0)
        assert not keepalive.ping_due(1e9)
        assert keepalive.deadline() is None

    def test_first_ping_after_one_interval(self) -> None:
        keepalive = Keepalive(20.0, 5.0, now=100.0)
        assert keepalive.deadline() == 120.0
        assert not keepalive.ping_due(119.9)
        assert keepalive.ping_due(120.0)

    def test_the_pong_is_due_before_the_next_ping(self) -> None:
        keepalive = Keepalive(20.0, 5.0, now=0.0)
        keepalive.ping_sent(20.0)
        assert keepalive.deadline() == 25.0
        keepalive.pong_received()
        assert keepalive.deadline() == 40.0
        assert not keepalive.overdue(1e9)

    def test_pings_go_on_while_unanswered_and_the_oldest_one_counts(self) -> None:
        keepalive = Keepalive(2.0, 5.0, now=0.0)
        keepalive.ping_sent(2.0)
        assert keepalive.deadline() == 4.0
        assert keepalive.ping_due(4.0)
        keepalive.ping_sent(4.0)
        assert keepalive.deadline() == 6.0
        assert not keepalive.overdue(6.9)
        assert keepalive.overdue(7.0)  # 5 s after the first, unanswered, ping

    def test_no_timeout_never_overdue(self) -> None:
        keepalive = Keepalive(20.0, None, now=0.0)
        keepalive.ping_sent(20.0)
        assert keepalive.deadline() == 40.0
        assert not keepalive.overdue(1e9)

    def test_timeout_without_interval(self) -> None:
        keepalive = Keepalive(None, 5.0, now=0.0)
        keepalive.ping_sent(1.0)
        assert keepalive.deadline() == 6.0


class TestPings:
    def test_a_pong_settles_its_ping_and_the_earlier_ones(self) -> None:
        pings: Pings[str] = Pings()
        for data, now in ((b"1", 1.0), (b"2", 2.0), (b"3", 3.0)):
            pings.add(data, now, data.decode())
        assert pings.settle(b"2", 10.0) == [("1", 9.0), ("2", 8.0)]
        assert pings.settle(b"3", 11.0) == [("3", 8.0)]

    def test_an_unsolicited_pong_settles_nothing(self) -> None:
        pings: Pings[str] = Pings()
        pings.add(b"mine", 0.0, "mine")
        assert pings.settle(b"other", 1.0) == []
        assert pings.settle(b"mine", 1.0) == [("mine", 1.0)]

    def test_payloads_are_unique(self) -> None:
        draws = iter([b"aaaa", b"aaaa", b"bbbb"])
        pings: Pings[object] = Pings(random_bytes=lambda size: next(draws))
        pings.add(pings.payload(None), 0.0, object())
        assert pings.payload(None) == b"bbbb"  # the repeated draw was skipped
        with pytest.raises(InvalidState):
            pings.payload(b"aaaa")
        assert pings.payload(b"free") == b"free"

    def test_discard_frees_the_payload(self) -> None:
        pings: Pings[object] = Pings()
        waiter = object()
        pings.add(b"x", 0.0, waiter)
        pings.discard(waiter)
        assert pings.payload(b"x") == b"x"

    def test_cancel_all_returns_every_waiter_and_forgets_them(self) -> None:
        pings: Pings[str] = Pings()
        pings.add(b"x", 0.0, "x")
        pings.add(b"y", 0.0, "y")
        assert pings.cancel_all() == ["x", "y"]
        assert pings.settle(b"x", 1.0) == []
