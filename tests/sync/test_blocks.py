"""Per-block sums of the delta transfer (sync/blocks.py): the native sync._delta against its
numpy references, XXH64's published values, the file check, and deltas made either way."""

import io
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import native
from sync import blocks, delta
from tests.conftest import skip_or_fail

_delta = native.load("sync._delta")


def need_native():
    if _delta is None:
        skip_or_fail("sync._delta is not built here (python setup.py build_ext --inplace)")
    return _delta


@pytest.fixture
def pure(monkeypatch):
    """Switches this process to the numpy references for the duration of a test."""
    def use(python):
        for name in ("block_hashes", "block_weak_sums"):
            fn = getattr(blocks, f"{name}_python") if python else getattr(need_native(), name)
            monkeypatch.setattr(blocks, name, fn)
    return use


IMPLS = [blocks.block_hashes_python, blocks.block_weak_sums_python]


def test_xxh64_published_values():
    # XXH64 (seed 0) of "a" and "abc" as listed with the reference implementation
    for impl in ("python", "native"):
        fn = blocks.block_hashes_python if impl == "python" else need_native().block_hashes
        assert fn(b"a", 1)[::-1].hex() == "d24ec4f1a98c6e5b"
        assert fn(b"abc", 3)[::-1].hex() == "44bc2cf5ad770999"
        assert fn(b"", 5) == b""


@given(data=st.binary(max_size=2500), size=st.integers(1, 300), start=st.integers(0, 40))
@settings(max_examples=300, deadline=None)
def test_native_block_sums_agree_with_the_references(data, size, start):
    mod = need_native()
    view = memoryview(data)[min(start, len(data)):]  # unaligned starts too
    assert mod.block_hashes(view, size) == blocks.block_hashes_python(view, size)
    assert mod.block_weak_sums(view, size) == blocks.block_weak_sums_python(view, size)
    assert len(mod.block_hashes(view, size)) == 8 * -(-len(view) // size)


@given(data=st.binary(min_size=1, max_size=600))
@settings(max_examples=100, deadline=None)
def test_weak_sums_of_blocks_are_rsyncs_weak_sum(data):
    """Each piece's weak sum is the definition's (delta.weak_sum_reference), the last one over
    its own length."""
    size = max(1, len(data) // 3)
    got = blocks.block_weak_sums_python(data, size)
    want = b"".join(delta.weak_sum_reference(data[k:k + size]).to_bytes(4, "little")
                    for k in range(0, len(data), size))
    assert got == want
    if _delta is not None:
        assert _delta.block_weak_sums(data, size) == want


def test_long_blocks_of_high_bytes_wrap_alike():
    data = b"\xff" * (128 * 1024 + 7)  # sums past 2**32 before the modulus
    for size in (128 * 1024, 4096, 513):
        assert need_native().block_weak_sums(data, size) == \
            blocks.block_weak_sums_python(data, size)
        assert _delta.block_hashes(data, size) == blocks.block_hashes_python(data, size)


@pytest.mark.parametrize("size", [0, -1])
def test_bad_block_size_raises_value_error_either_way(size):
    for fn in (*IMPLS, need_native().block_hashes, _delta.block_weak_sums):
        with pytest.raises(ValueError, match="block size"):
            fn(b"abc", size)


def test_odd_arguments_raise_alike_either_way():
    """Text, a size that is not an int or past the C range, a buffer with gaps: the same
    exception type from the module and from the references; a size past the data is one
    short piece."""
    for fn in (*IMPLS, need_native().block_hashes, _delta.block_weak_sums):
        with pytest.raises(TypeError):
            fn("abc", 4)
        with pytest.raises(TypeError):
            fn(b"abc", 2.0)
        with pytest.raises(OverflowError):
            fn(b"abc", 2**70)
        with pytest.raises(BufferError):
            fn(memoryview(b"abcdefgh")[::2], 2)
    for name in ("block_hashes", "block_weak_sums"):
        ref, mod = getattr(blocks, f"{name}_python"), getattr(_delta, name)
        assert ref(b"abc", 2**62) == mod(b"abc", 2**62) == ref(b"abc", 3)
        words = memoryview(bytes(range(40))).cast("I")  # not a byte view: its bytes count
        assert ref(words, 7) == mod(words, 7) == ref(bytes(range(40)), 7)


@given(data=st.binary(max_size=3 * blocks.CHECK_PIECE),
       cuts=st.lists(st.integers(0, 3 * blocks.CHECK_PIECE), max_size=6))
@settings(max_examples=100, deadline=None)
def test_file_check_does_not_depend_on_how_the_bytes_come(data, cuts):
    whole = blocks.FileCheck()
    whole.update(data)
    pieces = blocks.FileCheck()
    edges = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        pieces.update(memoryview(data)[a:b])
    assert pieces.digest() == whole.digest()
    assert len(whole.digest()) == 16
    other = blocks.FileCheck()
    other.update(data + b"\0")  # a longer stream of the same pieces differs
    assert other.digest() != whole.digest()


EDITS = st.lists(st.tuples(st.integers(0, 40_000), st.binary(max_size=700), st.integers(0, 700)),
                 max_size=5)


@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 40_000), edits=EDITS,
       block=st.sampled_from([None, 512, 1024, 1536]))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # set on every input
def test_native_and_pure_deltas_are_identical(pure, seed, size, edits, block):
    """The same signature, delta and rebuilt file with the native module and without it; a
    delta made by one side applies on the other (mixed machines)."""
    import random

    basis = random.Random(seed).randbytes(size)
    new = bytearray(basis)
    for at, insert, remove in edits:  # inserts, deletions and overwrites anywhere
        at = min(at, len(new))
        new[at:at + remove] = insert
    new = bytes(new)
    made = {}
    for python in (False, True):
        pure(python)
        sig = delta.signature(io.BytesIO(basis), block).to_bytes()
        d = delta.make_delta(delta.Signature.from_bytes(sig), io.BytesIO(new))
        made[python] = sig, d
    assert made[False] == made[True]
    for python in (False, True):
        pure(python)
        out = io.BytesIO()
        assert delta.apply_delta(io.BytesIO(basis), made[not python][1], out) == len(new)
        assert out.getvalue() == new


def test_a_pure_python_process_reads_what_the_native_one_writes(tmp_path):
    """SUITE_PURE_PYTHON=1 in another process: the same signature and file digest, and it
    applies a delta made here."""
    need_native()
    basis, new = os.urandom(300_000), bytearray(os.urandom(300_000))
    new[:100_000] = basis[:100_000]
    (tmp_path / "basis").write_bytes(basis)
    (tmp_path / "new").write_bytes(bytes(new))
    sig = delta.signature(io.BytesIO(basis))
    d = delta.make_delta(sig, io.BytesIO(bytes(new)))
    (tmp_path / "delta").write_bytes(d)
    code = (
        "import io, sys; from sync import blocks, delta\n"
        "assert blocks._native is None\n"
        "b = open('basis', 'rb').read()\n"
        "sys.stdout.write(delta.signature(io.BytesIO(b)).to_bytes().hex() + ' ')\n"
        "sys.stdout.write(delta.file_digest('new') + ' ')\n"
        "out = io.BytesIO(); delta.apply_delta(io.BytesIO(b), open('delta', 'rb').read(), out)\n"
        "sys.stdout.write(str(out.getvalue() == open('new', 'rb').read()))\n")
    got = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={**os.environ, "SUITE_PURE_PYTHON": "1"})
    sig_hex, digest, rebuilt = got.stdout.split()
    assert sig_hex == sig.to_bytes().hex()
    assert digest == delta.file_digest(tmp_path / "new")
    assert rebuilt == "True"


def test_a_changed_block_in_a_copy_run_is_sent_as_literal():
    """The copy run is hashed many blocks a call: a change in the middle of a long unchanged
    region still splits it exactly there."""
    basis = os.urandom(1 << 20)
    for at in (0, 1024 * 7, 1024 * 8, 1024 * 500, (1 << 20) - 1):
        new = bytearray(basis)
        new[at] ^= 0xFF
        sig = delta.signature(io.BytesIO(basis), 1024)
        d = delta.make_delta(sig, io.BytesIO(bytes(new)))
        assert len(d) < 4000  # one block literal, the rest copies
        out = io.BytesIO()
        delta.apply_delta(io.BytesIO(basis), d, out)
        assert out.getvalue() == bytes(new)
