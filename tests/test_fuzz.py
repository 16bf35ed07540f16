"""The short, CI version of the fuzzing run: hypothesis drives every target of
``fuzz/targets.py`` (readers, preprocessing, bundle loading, the CLI) with random bytes
and with mutations of valid inputs. A target fails on anything but a result or a clear
error; ``fuzz/run.py`` is the long coverage-guided run (atheris)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.targets import TARGETS, clear, seed_inputs

SEEDS = seed_inputs()

#: byte strings that tend to break parsers, spliced into valid inputs
TOKENS = [b"\x00", b",", b"\n", b'"', b"nan", b"-inf", b"1e999", b"9" * 30, b"{", b"]", b"\xff"]


@st.composite
def mutated(draw: st.DrawFn, name: str) -> bytes:
    """A seed input of ``name`` with a few bytes replaced, cut, or spliced in."""
    data = bytearray(draw(st.sampled_from(SEEDS[name])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["set", "cut", "splice"]))
        if kind == "set" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.sampled_from(TOKENS) | st.binary(max_size=8))
    return bytes(data)


def inputs(name: str) -> st.SearchStrategy[bytes]:
    return mutated(name) | st.binary(max_size=512)


#: inputs the fuzzers found crashing, kept so they stay fixed
REGRESSIONS = [
    # a PNG header claiming 394 million pixels: Pillow's DecompressionBombError
    ("image", base64.b64decode("iQADSAADSElEUgEAPUlEUgEAPQ==")),
    # pyarrow reports a corrupt footer as an OSError
    ("parquet", b"PAR1\x15\x04\x15\xf0\x04" + b"\x00" * 40 + b"\x08\x00\x00\x00PAR1"),
    # an event id beyond 64 bits: OverflowError from NumPy
    ("sessions", b"1 2 3\n4\n999999999999999999999999999999"),
]


@pytest.mark.parametrize(("name", "data"), REGRESSIONS, ids=[n for n, _ in REGRESSIONS])
def test_inputs_that_once_crashed_give_a_clear_error(name, data):
    TARGETS[name](data)


@pytest.mark.parametrize("name", list(TARGETS))
def test_valid_inputs_pass_their_target(name):
    for data in SEEDS[name]:
        assert not isinstance(clear(lambda d=data: TARGETS[name](d)), Exception), name


@pytest.mark.parametrize("name", list(TARGETS))
def test_fuzzed_inputs_give_a_result_or_a_clear_error(name):
    @settings(
        max_examples=60 if name in ("manifest", "weights", "cli") else 150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=inputs(name))
    def run(data: bytes) -> None:
        TARGETS[name](data)

    run()


def test_a_crash_is_not_taken_for_a_clear_error():
    def broken() -> None:
        raise KeyError("deep inside")

    with pytest.raises(KeyError):
        clear(broken)
    with pytest.raises(AssertionError, match="without a message"):
        clear(lambda: (_ for _ in ()).throw(ValueError("")))
