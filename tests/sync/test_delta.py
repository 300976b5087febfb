"""Delta transfer (sync/delta.py): round trips, exact rolling sums, malformed input rejected."""

import io
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.errors import SuiteError
from sync import delta
from sync.blocks import FileCheck
from sync.delta import DeltaError, Signature


def roundtrip(basis: bytes, new: bytes, block_size=None):
    sig = Signature.from_bytes(delta.signature(io.BytesIO(basis), block_size).to_bytes())
    d = delta.make_delta(sig, io.BytesIO(new))
    out = io.BytesIO()
    written = delta.apply_delta(io.BytesIO(basis), d, out)
    assert out.getvalue() == new
    assert written == len(new)
    return d


# --- exactness of the vectorised rolling sums against the definition ---------------------------


@given(st.binary(min_size=0, max_size=3000), st.integers(1, 700))
@settings(max_examples=60, deadline=None)
def test_weak_sums_all_offsets_match_reference(data, length):
    got = delta.weak_sums_all(data, length).tolist()
    want = [delta.weak_sum_reference(data[o : o + length]) for o in range(len(data) - length + 1)]
    assert got == want


def test_weak_sums_exact_on_large_offsets_where_uint32_wraps():
    data = bytes([255]) * (1 << 20) + os.urandom(4096)
    sums = delta.weak_sums_all(data, 1024)
    for o in (0, 500_000, (1 << 20) - 10, len(data) - 1024):
        assert int(sums[o]) == delta.weak_sum_reference(data[o : o + 1024])


def test_signature_weak_sums_match_reference():
    data = os.urandom(5000)
    sig = delta.signature(io.BytesIO(data), 1024)
    assert sig.n_blocks == 5
    for i in range(5):
        assert int(sig.weak[i]) == delta.weak_sum_reference(data[i * 1024 : (i + 1) * 1024])
    # the largest blocks of the largest bytes: the sums wrap in uint32, still exact mod 2**16
    big = delta.MAX_BLOCK
    data = b"\xff" * big + os.urandom(big) + b"\xfe" * 10
    sig = delta.signature(io.BytesIO(data), big)
    assert [int(w) for w in sig.weak] == [
        delta.weak_sum_reference(data[k:k + big]) for k in range(0, len(data), big)]



@given(st.binary(max_size=5000), st.sampled_from([None, 1, 7, 512, 1024, 4096]))
@settings(max_examples=60, deadline=None)
def test_signature_bytes_are_the_signatures_bytes(data, block_size):
    """signature_bytes (what the far side of a push sends, no numpy) gives the bytes of
    signature().to_bytes(), errors included."""
    if block_size is not None and not delta.MIN_BLOCK <= block_size <= delta.MAX_BLOCK:
        for fn in (delta.signature, delta.signature_bytes):
            with pytest.raises(DeltaError, match="block size"):
                fn(io.BytesIO(data), block_size)
        return
    assert delta.signature_bytes(io.BytesIO(data), block_size) == \
        delta.signature(io.BytesIO(data), block_size).to_bytes()


@pytest.mark.skipif(not __import__("sync.blocks").blocks.NATIVE,
                    reason="the numpy references need numpy")
def test_a_signature_imports_no_numpy(tmp_path):
    """The far side of a push only makes signatures: with the C block sums it never imports
    numpy (0.1 s of CPU and 0.25-0.45 s of wall on this VM per sync with deltas)."""
    import subprocess
    import sys

    import suite

    p = suite.init_project(tmp_path / "p")
    job = p.open_job({"a": 1}).init()
    with open(job.fn("big.bin"), "wb") as f:
        f.write(os.urandom(300_000))
    code = ("import sys; from sync.replica import Replica; from sync import delta; "
            f"sig = Replica({str(p.path)!r}).signature({job.id!r}, 'big.bin'); "
            "print('numpy' in sys.modules); "
            "assert delta.Signature.from_bytes(sig).file_size == 300_000")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False", out.stderr

# --- round trips ---------------------------------------------------------------------------------

edit = st.tuples(
    st.sampled_from(["insert", "delete", "change", "move"]),
    st.floats(0, 1),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=3000),
)


def apply_edit(data: bytes, e) -> bytes:
    kind, f1, f2, payload = e
    i = int(f1 * len(data))
    j = min(len(data), i + int(f2 * 5000))
    if kind == "insert":
        return data[:i] + payload + data[i:]
    if kind == "delete":
        return data[:i] + data[j:]
    if kind == "change":
        return data[:i] + payload + data[i + len(payload) :]
    piece = data[i:j]  # move
    rest = data[:i] + data[j:]
    k = int(f2 * len(rest))
    return rest[:k] + piece + rest[k:]


@given(
    st.integers(0, 60_000),
    st.integers(0, 2**32),
    st.lists(edit, max_size=5),
    st.sampled_from([None, 512, 700, 4096]),
    st.booleans(),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_roundtrip_random_edits(size, seed, edits, block_size, compressible):
    rng = random.Random(seed)
    if compressible:
        basis = bytes(rng.choice(b"ab\n ") for _ in range(size))
    else:
        basis = rng.randbytes(size)
    new = basis
    for e in edits:
        new = apply_edit(new, e)
    roundtrip(basis, new, block_size)


@given(st.binary(max_size=2000), st.binary(max_size=2000))
@settings(max_examples=60, deadline=None)
def test_roundtrip_unrelated_small_files(basis, new):
    roundtrip(basis, new)


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 100_000, 1_000_003])
def test_identical_files_give_tiny_delta(size):
    data = os.urandom(size)
    d = roundtrip(data, data)
    assert len(d) < 80


def test_file_smaller_than_block_reused_when_identical():
    data = os.urandom(300)
    assert len(roundtrip(data, data, 512)) < 80
    # the short last block is matched at the end of the new file only (as rsync does)
    assert len(roundtrip(data, b"head" + data, 512)) < 100


def test_zero_files_and_shifted_zeros():
    roundtrip(bytes(200_000), bytes(199_999))
    roundtrip(bytes(200_000), b"x" + bytes(200_000))


def test_windows_boundaries(monkeypatch):
    # small windows force many window boundaries and carries across them
    monkeypatch.setattr(delta, "WINDOW", 3000)
    basis = os.urandom(40_000)
    new = basis[:10_001] + b"inserted" + basis[10_001:31_000] + basis[33_000:]
    d = roundtrip(basis, new, 512)
    assert len(d) < 4000


def test_searching_offsets_in_regions_finds_what_a_whole_window_search_finds(monkeypatch):
    # after a copy run breaks, offsets are searched region by region (doubling while nothing
    # matches); any region size must give the same instructions, hence the same delta
    rng = random.Random(3)
    basis = rng.randbytes(300_000)
    new = bytearray(basis)
    for _ in range(30):  # scattered edits, an insertion and a deletion
        o = rng.randrange(len(new) - 100)
        new[o:o + 40] = rng.randbytes(40)
    new = bytes(new[:100_000]) + b"inserted" + bytes(new[100_000:200_000]) + \
        bytes(new[203_000:])
    sig = delta.signature(io.BytesIO(basis), 1024)
    deltas = set()
    for span in (1, 2, 64, 10**9):
        monkeypatch.setattr(delta, "_FIRST_SPAN", span)
        deltas.add(delta.make_delta(sig, io.BytesIO(new)))
    assert len(deltas) == 1
    out = io.BytesIO()
    delta.apply_delta(io.BytesIO(basis), deltas.pop(), out)
    assert out.getvalue() == new


def test_large_file_one_mib_changed_in_middle():
    size = 64 << 20
    basis = random.Random(1).randbytes(size)
    mid = size // 2
    new = basis[:mid] + random.Random(2).randbytes(1 << 20) + basis[mid + (1 << 20) :]
    d = roundtrip(basis, new)
    assert (1 << 20) <= len(d) < (1 << 20) + (1 << 20) // 50  # within 2% of the changed bytes


# --- malformed signatures --------------------------------------------------------------------------


def good_signature_bytes():
    return delta.signature(io.BytesIO(os.urandom(5000)), 1024).to_bytes()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b"",
        lambda b: b[:10],
        lambda b: b"XXXX" + b[4:],
        lambda b: b[:4] + bytes([9]) + b[5:],
        lambda b: b[:5] + bytes([200]) + b[6:],  # strong length
        lambda b: b[:6] + (7).to_bytes(4, "little") + b[10:],  # block size too small
        lambda b: b[:-1],
        lambda b: b + b"x",
        lambda b: b[:10] + (10**12).to_bytes(8, "little") + b[18:],  # file size lies
    ],
)
def test_malformed_signature_rejected(mangle):
    with pytest.raises(DeltaError) as info:
        Signature.from_bytes(mangle(good_signature_bytes()))
    assert isinstance(info.value, SuiteError)
    assert "signature" in str(info.value)


@given(st.binary(max_size=200))
@settings(max_examples=100, deadline=None)
def test_random_bytes_never_crash_signature_parser(data):
    try:
        Signature.from_bytes(data)
    except DeltaError:
        pass


def test_signature_block_size_out_of_range():
    with pytest.raises(DeltaError, match="block size"):
        delta.signature(io.BytesIO(b"abc"), 10)


# --- malformed deltas --------------------------------------------------------------------------


def make_case():
    basis = os.urandom(20_000)
    new = basis[:5000] + b"hello" * 100 + basis[9000:]
    sig = delta.signature(io.BytesIO(basis), 1024)
    return basis, new, delta.make_delta(sig, io.BytesIO(new))


def encode(basis_size, body: bytes, block_size=1024):
    import zstandard

    header = delta._DELTA_HEADER.pack(delta.DELTA_MAGIC, delta.VERSION, block_size, basis_size)
    return header + zstandard.ZstdCompressor().compress(body)


def apply(basis, d):
    return delta.apply_delta(io.BytesIO(basis), d, io.BytesIO())


def test_delta_truncated_rejected():
    basis, _, d = make_case()
    for cut in (0, 5, 17, len(d) // 2, len(d) - 1):
        with pytest.raises(DeltaError):
            apply(basis, d[:cut])


def test_delta_corrupted_bytes_rejected():
    basis, _, d = make_case()
    for i in range(0, len(d), max(1, len(d) // 40)):
        bad = bytearray(d)
        bad[i] ^= 0xFF
        with pytest.raises(DeltaError):
            apply(basis, bytes(bad))


def test_delta_against_wrong_basis_rejected():
    basis, _, d = make_case()
    with pytest.raises(DeltaError, match="20000-byte basis"):
        apply(basis[:-1], d)
    other = bytearray(basis)
    other[100] ^= 1  # same size, different content: caught by the result checksum
    with pytest.raises(DeltaError, match="checksum"):
        apply(bytes(other), d)


def test_delta_copy_out_of_range_rejected():
    body = bytes([delta._OP_COPY]) + delta._varint(19) + delta._varint(2)
    with pytest.raises(DeltaError, match="blocks 19..20"):
        apply(bytes(20_000), encode(20_000, body))
    body = bytes([delta._OP_COPY]) + delta._varint(0) + delta._varint(0)
    with pytest.raises(DeltaError, match="copy"):
        apply(bytes(20_000), encode(20_000, body))


def test_delta_unknown_op_and_huge_literal_rejected():
    with pytest.raises(DeltaError, match="unknown instruction"):
        apply(b"", encode(0, b"\x07"))
    body = bytes([delta._OP_LITERAL]) + delta._varint(10**15) + b"abc"
    with pytest.raises(DeltaError, match="literal"):
        apply(b"", encode(0, body))
    with pytest.raises(DeltaError, match="too large"):
        apply(b"", encode(0, bytes([delta._OP_LITERAL]) + b"\xff" * 12))


def test_delta_wrong_total_and_trailing_data_rejected():
    digest = FileCheck().digest()  # of no bytes
    with pytest.raises(DeltaError, match="rebuilt 0 bytes"):
        apply(b"", encode(0, b"\x00" + delta._varint(5) + digest))
    with pytest.raises(DeltaError, match="after the end"):
        apply(b"", encode(0, b"\x00" + delta._varint(0) + digest + b"junk"))
    assert apply(b"", encode(0, b"\x00" + delta._varint(0) + digest)) == 0


def test_delta_bad_header_rejected():
    with pytest.raises(DeltaError, match="magic"):
        apply(b"", b"NOPE" + bytes(20))
    with pytest.raises(DeltaError, match="version"):
        apply(b"", delta._DELTA_HEADER.pack(delta.DELTA_MAGIC, 1, 1024, 0))  # blake2b's
    with pytest.raises(DeltaError, match="block size"):
        apply(b"", delta._DELTA_HEADER.pack(delta.DELTA_MAGIC, delta.VERSION, 3, 0))


# --- whole-file helpers -------------------------------------------------------------------------


def test_file_digest_and_compress(tmp_path):
    p = tmp_path / "f.bin"
    data = os.urandom(3 << 20)
    p.write_bytes(data)
    q = tmp_path / "g.bin"
    q.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert delta.file_digest(p) == delta.file_digest(p)
    assert delta.file_digest(p) != delta.file_digest(q)
    packed = io.BytesIO()
    with open(p, "rb") as f:
        delta.compress_file(f, packed)
    out = io.BytesIO()
    delta.decompress(io.BytesIO(packed.getvalue()), out)
    assert out.getvalue() == data
    with pytest.raises(DeltaError, match="corrupt"):
        delta.decompress(io.BytesIO(b"not zstd at all"), io.BytesIO())


def test_real_files_on_disk(tmp_path):
    basis_path = tmp_path / "old"
    basis_path.write_bytes(os.urandom(300_000))
    new_path = tmp_path / "new"
    new_path.write_bytes(basis_path.read_bytes()[:150_000] + b"x" + basis_path.read_bytes())
    with open(basis_path, "rb") as f:
        sig = delta.signature(f)
    with open(new_path, "rb") as f:
        d = delta.make_delta(sig, f)
    out = tmp_path / ".suite-tmp-out"
    with open(basis_path, "rb") as b, open(out, "wb") as o:
        delta.apply_delta(b, d, o)
    assert delta.file_digest(out) == delta.file_digest(new_path)
    assert len(d) < 200_000


def test_blocks_sharing_a_weak_sum_are_told_apart_by_the_strong_hash():
    # turning an adjacent (1, 2) into (2, 1) adds 1 to b; turning a (2, 1) into (1, 2) takes
    # 1 away: doing both keeps a and b, so all these blocks share one weak sum
    base = bytearray(random.Random(5).randbytes(512))
    ups, downs = range(10, 250, 40), range(260, 500, 40)
    for p in ups:
        base[p : p + 2] = b"\x01\x02"
    for q in downs:
        base[q : q + 2] = b"\x02\x01"
    blocks = []
    for p in ups:
        for q in downs:
            b = bytearray(base)
            b[p : p + 2] = b"\x02\x01"
            b[q : q + 2] = b"\x01\x02"
            blocks.append(bytes(b))
    assert len({delta.weak_sum_reference(b) for b in blocks}) == 1
    assert len(set(blocks)) == len(blocks) == 36
    basis = b"".join(blocks)
    new = b"".join(reversed(blocks))
    assert len(roundtrip(basis, new, 512)) < 300  # every block found: copies only


def test_delta_over_its_limit_is_refused():
    basis = os.urandom(1 << 18)
    sig = delta.signature(io.BytesIO(basis))
    new = os.urandom(1 << 18)  # nothing in common: the delta is the whole file
    with pytest.raises(delta.DeltaTooLarge):
        delta.make_delta(sig, io.BytesIO(new), limit=1 << 16)
    small = delta.make_delta(sig, io.BytesIO(basis[:-10] + b"0123456789"), limit=1 << 16)
    out = io.BytesIO()
    delta.apply_delta(io.BytesIO(basis), small, out)
    assert out.getvalue() == basis[:-10] + b"0123456789"
