"""Tests of airsocket.protocol.options: one validated options object."""

from __future__ import annotations

import dataclasses

import pytest

from airsocket.protocol.exceptions import ArgumentError
from airsocket.protocol.options import MAX_MESSAGE_SIZE_LIMIT, Options

SIZES = [
    "max_message_size",
    "max_queue",
    "write_limit",
    "max_head_size",
    "max_line_size",
    "max_header_count",
    "compression_min_size",
]
TIMES = ["open_timeout", "close_timeout", "ping_interval", "ping_timeout"]


class TestDefaults:
    def test_defaults(self) -> None:
        options = Options()
        assert options.max_message_size == 64 * 1024 * 1024
        assert options.compression == "deflate"
        assert options.compression_window_bits == 12
        assert options.user_agent == "airsocket/0.1"
        assert MAX_MESSAGE_SIZE_LIMIT == 2**63 - 1  # RFC 6455 5.2: 63-bit lengths

    def test_frozen(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            Options().max_queue = 1  # type: ignore[misc]


class TestValidation:
    @pytest.mark.parametrize("name", SIZES)
    @pytest.mark.parametrize("value", [0, 1, MAX_MESSAGE_SIZE_LIMIT])
    def test_sizes_accept(self, name: str, value: int) -> None:
        assert getattr(Options(**{name: value}), name) == value

    @pytest.mark.parametrize("name", SIZES)
    @pytest.mark.parametrize("value", [-1, MAX_MESSAGE_SIZE_LIMIT + 1, True, 1.0, "1", None])
    def test_sizes_refuse(self, name: str, value: object) -> None:
        with pytest.raises(ArgumentError, match=name):
            Options(**{name: value})

    @pytest.mark.parametrize("name", TIMES)
    @pytest.mark.parametrize("value", [None, 0.001, 1, 3600.5])
    def test_times_accept(self, name: str, value: float | None) -> None:
        assert getattr(Options(**{name: value}), name) == value

    @pytest.mark.parametrize("name", TIMES)
    @pytest.mark.parametrize("value", [0, 0.0, -1, False, "1", float("nan")])
    def test_times_refuse(self, name: str, value: object) -> None:
        with pytest.raises(ArgumentError, match=name):
            Options(**{name: value})

    @pytest.mark.parametrize("value", [None, "deflate"])
    def test_compression_accepts(self, value: str | None) -> None:
        assert Options(compression=value).compression == value

    @pytest.mark.parametrize("value", ["gzip", "", "Deflate", True])
    def test_compression_refuses(self, value: object) -> None:
        with pytest.raises(ArgumentError, match="compression"):
            Options(compression=value)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("name", "low", "high"),
        [
            ("compression_level", -1, 9),
            ("compression_window_bits", 9, 15),
            ("compression_mem_level", 1, 9),
        ],
    )
    def test_compression_ranges(self, name: str, low: int, high: int) -> None:
        assert getattr(Options(**{name: low}), name) == low
        assert getattr(Options(**{name: high}), name) == high
        for value in (low - 1, high + 1, float(low), True):
            with pytest.raises(ArgumentError, match=name):
                Options(**{name: value})

    @pytest.mark.parametrize("value", [None, [], ["chat"], ("v1", "v2")])
    def test_subprotocols_accept(self, value: object) -> None:
        assert Options(subprotocols=value).subprotocols == value  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", ["chat", [""], [1], ["ok", None]])
    def test_subprotocols_refuse(self, value: object) -> None:
        with pytest.raises(ArgumentError, match="subprotocol"):
            Options(subprotocols=value)  # type: ignore[arg-type]


class TestBuild:
    def test_no_changes_gives_the_same_object(self) -> None:
        options = Options(max_queue=3)
        assert Options.build(options) is options
        assert Options.build() == Options()
        assert Options.build() is Options.build()

    def test_changes_make_a_validated_copy(self) -> None:
        base = Options(max_queue=3)
        built = Options.build(base, write_limit=10, compression=None)
        assert (built.max_queue, built.write_limit, built.compression) == (3, 10, None)
        assert base.write_limit == 64 * 1024
        assert Options.build(max_queue=5).max_queue == 5
        with pytest.raises(ArgumentError, match="max_queue"):
            Options.build(base, max_queue=-1)

    def test_unknown_names(self) -> None:
        with pytest.raises(ArgumentError, match="unknown option\\(s\\): max_size, timeout"):
            Options.build(timeout=1, max_size=2, max_queue=1)

    def test_every_field_is_a_known_name(self) -> None:
        for field in dataclasses.fields(Options):
            Options.build(**{field.name: getattr(Options(), field.name)})

    def test_the_same_changes_give_the_same_object_once_built(self) -> None:
        first = Options.build(max_queue=7, compression=None)
        assert Options.build(compression=None, max_queue=7) is first
        assert Options.build(max_queue=8, compression=None) is not first

    def test_kept_options_are_told_apart_by_type(self) -> None:
        assert Options.build(open_timeout=5).open_timeout == 5
        assert type(Options.build(open_timeout=5.0).open_timeout) is float
        Options.build(max_queue=1)
        with pytest.raises(ArgumentError, match="max_queue"):
            Options.build(max_queue=True)  # equal to 1, and still refused

    def test_unhashable_values_are_built_each_time(self) -> None:
        first = Options.build(subprotocols=["chat"])
        second = Options.build(subprotocols=["chat"])
        assert first == second and first is not second

    def test_no_more_than_64_are_kept(self) -> None:
        from airsocket.protocol import options as module

        for size in range(1, 200):
            Options.build(max_queue=size)
        assert len(module._BUILT) <= 64
        assert Options.build(max_queue=199) is Options.build(max_queue=199)
        with pytest.raises(ArgumentError, match="unknown"):
            Options.build(max_queue=1, nope=2)  # refused before anything is kept
