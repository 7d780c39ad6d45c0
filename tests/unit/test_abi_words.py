"""The one-word ABI shortcut of runner.chain.abi against eth_abi itself, on seeded random values."""

from __future__ import annotations

import random
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_utils import to_checksum_address

from runner.chain.abi import Event, Function, artifact

TYPES = ("uint256", "uint8", "uint112", "int256", "int24", "int8", "address", "bool", "bytes32", "bytes4", "bytes1",
         "uint256[]", "address[]", "bool[]", "int24[]")


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - which exception is the point
        return type(exc)


def _value(rng: random.Random, t: str) -> Any:
    """Mostly valid values of `t`, some at and beyond its bounds, some of another type."""
    if t.endswith("[]"):
        if rng.random() < 0.05:
            return rng.choice((None, 3, b"ab", "xy"))
        items = [_value(rng, t[:-2]) for _ in range(rng.choice((0, 1, 2, 3, 5)))]
        return tuple(items) if rng.random() < 0.3 else items
    r = rng.random()
    if r < 0.1:
        return rng.choice((None, True, 1.5, "x", b"\x01" * 20, -1, 2**256, bytearray(20)))
    if t.startswith(("uint", "int")):
        bits = int(t.removeprefix("u").removeprefix("int"))
        lo, hi = (0, 2**bits - 1) if t.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return rng.choice((lo, hi, lo - 1, hi + 1, rng.randint(lo, hi), rng.randint(lo, hi), 0))
    if t == "address":
        a = rng.randbytes(20)
        return rng.choice((a, a, "0x" + a.hex(), to_checksum_address(a), "0x" + a.hex().upper(), a[:19],
                           "0x" + a.hex()[:-1] + ("0" if a.hex()[-1] != "0" else "1").upper()))
    if t == "bool":
        return rng.choice((True, False, 0, 1))
    n = int(t.removeprefix("bytes"))
    return rng.choice((rng.randbytes(n), rng.randbytes(n), rng.randbytes(max(0, n - 1)), rng.randbytes(n + 1)))


def _word(rng: random.Random) -> bytes:
    return rng.choice((rng.randbytes(32), bytes(32), bytes(31) + b"\x01", bytes(31) + b"\x02",
                       bytes(12) + rng.randbytes(20), b"\xff" * 29 + rng.randbytes(3),
                       bytes(29) + rng.randbytes(3), rng.randbytes(4) + bytes(28), rng.randbytes(1) + bytes(31)))


def _canonical_or_broken(rng: random.Random, types: tuple[str, ...]) -> bytes:
    """eth_abi's encoding of valid random values, often with one word changed (an offset, a
    length, an element's padding) or a word cut or added."""
    values = []
    for t in types:
        for _ in range(50):
            v = _value(rng, t)
            try:
                encode((t,), (v,))
                break
            except Exception:  # noqa: BLE001 - another draw
                continue
        values.append(v)
    data = bytearray(encode(types, values))
    r = rng.random()
    if r < 0.4 and data:
        at = 32 * rng.randrange(len(data) // 32)
        data[at:at + 32] = _word(rng) if rng.random() < 0.5 else (int.from_bytes(data[at:at + 32], "big")
                                                                 + rng.choice((-32, -1, 1, 32, 64))
                                                                 ).__mod__(2**256).to_bytes(32, "big")
    elif r < 0.5:
        data += bytes(32)
    elif r < 0.6 and data:
        del data[-32:]
    return bytes(data)


class TestWords:
    def test_encode_equals_eth_abi(self) -> None:
        rng = random.Random(20261201)
        for _ in range(3000):
            types = tuple(rng.choice(TYPES) for _ in range(rng.randrange(0, 4)))
            f = Function("f", b"\xaa\xbb\xcc\xdd", types, ())
            args = tuple(_value(rng, t) for t in types)
            if rng.random() < 0.03:
                args = args + (1,)  # one argument too many
            ours = _outcome(f.encode, *args)
            theirs = _outcome(lambda: b"\xaa\xbb\xcc\xdd" + encode(types, args))  # noqa: B023
            assert ours == theirs, (types, args)

    def test_decode_equals_eth_abi(self) -> None:
        rng = random.Random(20261202)
        for _ in range(4000):
            types = tuple(rng.choice(TYPES) for _ in range(rng.randrange(0, 4)))
            f = Function("f", b"", (), types)
            if any(t.endswith("[]") for t in types):
                data = _canonical_or_broken(rng, types)
            else:
                data = b"".join(_word(rng) for _ in types)
            if rng.random() < 0.05:
                data = data[:-1] if data else b"\x00"
            elif rng.random() < 0.05:
                data += bytes(32)
            ours = _outcome(f.decode, data)
            theirs = _outcome(lambda: tuple(decode(types, data)))  # noqa: B023
            assert ours == theirs, (types, data)
            if isinstance(ours, tuple):
                assert [type(x) for x in ours] == [type(x) for x in theirs], (types, data)

    def test_dynamic_types_go_to_eth_abi(self) -> None:
        f = Function("f", b"", ("string", "uint256[]", "(uint256,address)"), ("bytes", "uint256[2]"))
        assert f._enc is None and f._dec is None
        args = ("hé", [1, 2], (3, b"\x01" * 20))
        assert f.encode(*args) == encode(f.inputs, args)
        data = encode(f.outputs, (b"abc", [1, 2]))
        assert f.decode(data) == tuple(decode(f.outputs, data))

    def test_event_decode_equals_eth_abi(self) -> None:
        rng = random.Random(7)
        ev = Event("Swap", b"\x00" * 32, (("sender", "address"), ("to", "address")),
                   (("amount0In", "uint256"), ("amount1Out", "int256")))
        for _ in range(500):
            topics = (ev.topic, _word(rng), _word(rng))
            data = _word(rng) + _word(rng)
            theirs = _outcome(lambda: {"sender": decode(["address"], topics[1])[0],  # noqa: B023
                                       "to": decode(["address"], topics[2])[0],  # noqa: B023
                                       **dict(zip(("amount0In", "amount1Out"),
                                                  decode(["uint256", "int256"], data), strict=True))})  # noqa: B023
            assert _outcome(ev.decode, topics, data) == theirs

    @pytest.mark.parametrize("name", ["TestToken", "Pair"])
    def test_fixture_functions_round_trip(self, name: str) -> None:
        """Every function of a fixture contract encodes as eth_abi does (seeded values)."""
        try:
            art = artifact(name)
        except LookupError:
            pytest.skip(f"no {name} artifact")
        rng = random.Random(name)
        for f in art.functions.values():
            for _ in range(20):
                if f._enc is None:
                    continue
                args = tuple(_value(rng, t) for t in f.inputs)
                assert _outcome(f.encode, *args) == _outcome(lambda: f.selector + encode(f.inputs, args))  # noqa: B023
