"""Tests of airsocket.sync.keepalive: timing decisions at chosen times, ping bookkeeping."""

from __future__ import annotations

import pytest

from airsocket import InvalidState
from airsocket.sync.keepalive import Keepalive, Pings


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

    def test_answered_ping_schedules_the_next(self) -> None:
        keepalive = Keepalive(20.0, 5.0, now=0.0)
        keepalive.ping_sent(20.0)
        assert keepalive.deadline() == 25.0  # the pong is due first
        assert not keepalive.ping_due(30.0)  # one keepalive ping at a time
        keepalive.pong_received()
        assert keepalive.deadline() == 40.0
        assert not keepalive.overdue(1e9)

    def test_unanswered_ping_is_overdue_after_the_timeout(self) -> None:
        keepalive = Keepalive(20.0, 5.0, now=0.0)
        keepalive.ping_sent(20.0)
        assert not keepalive.overdue(24.9)
        assert keepalive.overdue(25.0)

    def test_no_timeout_waits_for_the_pong(self) -> None:
        keepalive = Keepalive(20.0, None, now=0.0)
        keepalive.ping_sent(20.0)
        assert keepalive.deadline() is None
        assert not keepalive.overdue(1e9)


class TestPings:
    def test_a_pong_settles_its_ping_and_the_earlier_ones(self) -> None:
        pings = Pings()
        first, second, third = (
            pings.add(data, now) for data, now in ((b"1", 1), (b"2", 2), (b"3", 3))
        )
        assert pings.settle(b"2", 10.0) == [first, second]
        assert (first.rtt, second.rtt, third.rtt) == (9.0, 8.0, None)
        assert first.done.is_set() and not third.done.is_set()

    def test_an_unsolicited_pong_settles_nothing(self) -> None:
        pings = Pings()
        ping = pings.add(b"mine", 0.0)
        assert pings.settle(b"other", 1.0) == []
        assert ping.rtt is None

    def test_payloads_are_unique(self) -> None:
        draws = iter([b"aaaa", b"aaaa", b"bbbb"])
        pings = Pings(random_bytes=lambda size: next(draws))
        pings.add(pings.payload(None), 0.0)
        assert pings.payload(None) == b"bbbb"  # the repeated draw was skipped
        with pytest.raises(InvalidState):
            pings.payload(b"aaaa")
        assert pings.payload(b"free") == b"free"

    def test_discard_frees_the_payload(self) -> None:
        pings = Pings()
        ping = pings.add(b"x", 0.0)
        pings.discard(ping)
        assert pings.payload(b"x") == b"x"

    def test_cancel_all_wakes_waiters_without_an_rtt(self) -> None:
        pings = Pings()
        ping = pings.add(b"x", 0.0)
        pings.cancel_all()
        assert ping.done.is_set()
        assert ping.rtt is None
        assert pings.settle(b"x", 1.0) == []
