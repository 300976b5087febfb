"""The native tar export loop (archive._tarpack) against its pure-Python references: the same
header bytes as tarwriter.member_header, the same SHA-256 as hashlib, and the same archive,
byte for byte, as the Python walk of a job (archive.export), which stays the reference and
takes over for every job the native loop declines."""

import hashlib
import json
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive
import suite
from archive import manifest, tarformat, tarwriter
from suite import layout, native
from tests.conftest import skip_or_fail

tarpack = native.load("archive._tarpack")


def need():
    if tarpack is None:
        skip_or_fail("archive._tarpack is not built here or SUITE_PURE_PYTHON is set "
                     "(python setup.py build_ext --inplace)")
    return tarpack


def outcome(fn, *args):
    """``("ok", value)`` or ``("raises", exception type)``."""
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the comparison is the point: any type must agree
        return "raises", type(exc)


TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=160)
SIZES = st.one_of(st.integers(0, 2**40), st.integers(8**11 - 3, 8**11 + 3),
                  st.integers(0, 2**62))
MTIMES = st.one_of(st.integers(-2**40, 2**40), st.integers(8**11 - 3, 8**11 + 3),
                   st.floats(-2.0**40, 2.0**40, allow_nan=False), st.just(-0.5))
MODES = st.one_of(st.integers(0, 0o177777), st.integers(-2**70, 2**70))
KINDS = st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", ""])


@settings(max_examples=500, deadline=None)
@given(name=TEXT, size=SIZES, mode=MODES, mtime=MTIMES, kind=KINDS, link=TEXT)
def test_header_agrees_with_member_header(name, size, mode, mtime, kind, link):
    mod = need()
    assert outcome(mod.header, name, size, mode, mtime, kind, link) == \
        outcome(tarwriter.member_header, name, size, mode, mtime, kind, link)
    assert outcome(mod.header, name, size, mode, mtime, kind) == \
        outcome(tarwriter.member_header, name, size, mode, mtime, kind)


@pytest.mark.parametrize("name, link", [("bad-\udcff", ""), ("x" * 120 + "\ud800", ""),
                                        ("ok", "bad-\udcff")])
def test_header_refuses_names_that_are_not_utf8_as_the_reference(name, link):
    mod = need()
    with pytest.raises(UnicodeEncodeError):
        tarwriter.member_header(name, 1, 0o644, 0, "symlink", link)
    with pytest.raises(UnicodeEncodeError):
        mod.header(name, 1, 0o644, 0, "symlink", link)


def test_header_refuses_what_64_bits_cannot_hold():
    mod = need()
    with pytest.raises(OverflowError):
        mod.header("x", 2**64, 0o644, 0, "file")
    with pytest.raises(OverflowError):
        mod.header("x", 1, 0o644, 2**64, "file")
    with pytest.raises(ValueError):
        mod.header("x", -1, 0o644, 0, "file")


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), st.binary(min_size=1900, max_size=2200),
                      st.integers(0, 70).map(lambda n: b"a" * n)))
def test_sha256_agrees_with_hashlib(data):
    mod = need()
    assert mod.sha256(data) == hashlib.sha256(data).hexdigest()
    assert mod.sha256(bytearray(data)) == hashlib.sha256(data).hexdigest()


# FIPS 180-4 examples (NIST's SHA256.pdf, SHA256ShortMsg): one block, two blocks, a padding
# block of its own (56 bytes), and a million bytes
FIPS = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
     b"klmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    (b"a" * 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
]


def engines():
    """The compress functions of suite/_c/sha256.h this CPU can run, each forced."""
    mod = need()
    return ["plain", "sha-ni"] if mod.accelerated() else ["plain"]


@pytest.mark.parametrize("data, hexdigest", FIPS)
def test_sha256_fips_vectors_by_each_engine(data, hexdigest):
    mod = need()
    for engine in engines():
        assert mod.sha256(data, engine) == hexdigest, engine
    assert mod.sha256(data) == hexdigest


def test_sha256_engine_sha_ni_where_the_cpu_has_it():
    mod = need()
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        has = " sha_ni" in flags and " sse4_1" in flags
    except OSError:  # not Linux: the CPU's flags are not read here
        has = mod.accelerated()
    if has and not mod.accelerated():
        # a compiler without the SHA-NI path (gcc before 11) builds the plain one only:
        # correct, slower; CI's compiler has it, so there it fails instead
        skip_or_fail("the CPU has SHA-NI but this build has only the plain SHA-256 path")
    assert mod.accelerated() == has
    if not mod.accelerated():
        with pytest.raises(RuntimeError):
            mod.sha256(b"abc", "sha-ni")
    with pytest.raises(ValueError):
        mod.sha256(b"abc", "md5")
    with pytest.raises(TypeError):
        mod.sha256("abc", "plain")


# lengths around the block and padding edges (55/56/63/64 mod 64), and a few blocks beyond
EDGE = st.integers(0, 6).flatmap(
    lambda k: st.integers(max(0, 64 * k - 10), 64 * k + 10))


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=700), EDGE.flatmap(
    lambda n: st.binary(min_size=n, max_size=n))))
def test_sha256_each_engine_agrees_with_hashlib(data):
    mod = need()
    for engine in engines():
        assert mod.sha256(data, engine=engine) == hashlib.sha256(data).hexdigest(), engine


def test_sha256_refuses_what_hashlib_refuses():
    mod = need()
    for bad in ("text", 5, None):
        with pytest.raises(TypeError):
            hashlib.sha256(bad)
        with pytest.raises(TypeError):
            mod.sha256(bad)


# ---- whole jobs: the native loop and the Python walk write the same archive ----

NAME = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
               min_size=1, max_size=60).filter(
    lambda n: n not in (".", "..") and len(n.encode()) <= 255)
NAMES = st.one_of(NAME, NAME.map(lambda n: n[:20] + layout.TMP_PREFIX + "1"))
NSEC = st.one_of(st.sampled_from([0, 1, 999_999_999]), st.integers(0, 999_999_999))
ENTRY = st.tuples(st.lists(NAMES, min_size=1, max_size=3), st.sampled_from(["file", "dir"]),
                  st.one_of(st.integers(0, 1100), st.integers(2000, 5000)),
                  st.integers(0, 0o7777), st.integers(-2**31, 2**34), NSEC)


def make_tree(root, entries):
    """Create the generated entries under the job directory ``root`` (skipping those that
    clash with an earlier one), then set modes and times, deepest first."""
    made = []
    for parts, kind, size, mode, sec, nsec in entries:
        path = os.path.join(root, *parts)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if kind == "dir":
                os.mkdir(path)
                mode |= 0o700  # the walk must be able to enter it, as any user
            else:
                with open(path, "xb") as f:
                    f.write(os.urandom(size))
                mode |= 0o400
        except OSError:
            continue
        made.append((path, mode, sec * 10**9 + nsec))
    for path, mode, ns in sorted(made, key=lambda m: -m[0].count(os.sep)):
        os.chmod(path, mode)
        try:
            os.utime(path, ns=(ns, ns))
        except OSError:  # a time this file system cannot hold: whatever it stored counts
            pass


def both_ways(project, job, tmp, monkeypatch):
    """The bytes and ExportResult of an uncompressed export of ``job``, native and pure."""
    out = {}
    for way, module in (("native", tarpack), ("pure", None)):
        monkeypatch.setattr(tarformat, "_tarpack", module)
        target = os.path.join(tmp, f"{way}.tar")
        res = archive.export_jobs(project, target, [job], force=True)
        with open(target, "rb") as f:
            out[way] = (f.read(), {k: v for k, v in res.to_json().items() if k != "target"})
    return out["native"], out["pure"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(ENTRY, max_size=12), deep=st.booleans())
def test_export_native_writes_the_archive_of_the_python_walk(tmp_path_factory, monkeypatch,
                                                             entries, deep):
    mod = need()
    tmp = str(tmp_path_factory.mktemp("native"))
    project = suite.init_project(os.path.join(tmp, "p"))
    sp = {"a": 1, "long": "s" * 90} if deep else {"a": 1}  # member names past 100 bytes
    job = project.open_job(sp).init()
    make_tree(job.path, entries)
    # native took it
    assert mod.pack_tree(job.path, "job", layout.TMP_PREFIX, layout.STATEPOINT) is not None
    native_run, pure_run = both_ways(project, job, tmp, monkeypatch)
    assert native_run == pure_run


ODD = ["link inside", "link outside", "fifo", "big file", "deep", "name not UTF-8",
       "no state point", "job is a link"]


@pytest.mark.parametrize("odd", ODD)
def test_jobs_the_native_loop_declines_export_as_by_the_python_walk(tmp_path, monkeypatch, odd):
    mod = need()
    project = suite.init_project(tmp_path / "p")
    job = project.open_job({"a": 1}).init()
    with open(job.fn("data.txt"), "w") as f:
        f.write("data")
    os.mkdir(job.fn("sub"))
    root = job.path
    if odd == "link inside":
        os.symlink("../data.txt", job.fn("sub/link"))
    elif odd == "link outside":
        os.symlink("/etc/hostname", job.fn("sub/out"))
    elif odd == "fifo":
        os.mkfifo(job.fn("sub/pipe"))
    elif odd == "big file":
        with open(job.fn("sub/big.bin"), "wb") as f:
            f.write(os.urandom((1 << 20) + 1))
    elif odd == "deep":
        os.makedirs(os.path.join(job.path, *["d"] * 70))
    elif odd == "name not UTF-8":
        open(os.path.join(os.fsencode(job.fn("sub")), b"bad-\xff"), "w").close()
    elif odd == "no state point":
        os.unlink(job.fn(layout.STATEPOINT))
    elif odd == "job is a link":
        real = str(tmp_path / "elsewhere")
        os.rename(job.path, real)
        os.symlink(real, job.path)
    # a job without its state point file too: the Python walk refuses it
    assert mod.pack_tree(root, "job", layout.TMP_PREFIX, layout.STATEPOINT) is None
    outcomes = []
    for module in (tarpack, None):
        monkeypatch.setattr(tarformat, "_tarpack", module)
        target = tmp_path / f"{module is None}.tar"
        try:
            res = archive.export_jobs(project, target, [job])
        except archive.ArchiveError as exc:
            outcomes.append(("raises", str(exc)))
        else:
            res = {k: v for k, v in res.to_json().items() if k != "target"}
            outcomes.append(("ok", target.read_bytes(), res))
    assert outcomes[0] == outcomes[1]
    if odd in ("link inside", "link outside", "fifo", "big file", "deep"):
        assert outcomes[0][0] == "ok"
    else:
        assert outcomes[0][0] == "raises"


def test_pack_tree_writes_modes_times_and_names_tar_reads(tmp_path):
    """A member list read back by tarfile: the native bytes are a valid archive."""
    import io
    import tarfile

    mod = need()
    root = tmp_path / "job"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ünï.txt").write_bytes(b"x" * 700)
    (root / "a.txt").write_bytes(b"")
    os.chmod(root / "a.txt", 0o4751)
    os.utime(root / "a.txt", ns=(1_700_000_000_999_999_999,) * 2)
    data, files_text, count, dirs, total = mod.pack_tree(str(root), "p/" + "q" * 120,
                                                         layout.TMP_PREFIX, "a.txt")
    with tarfile.open(fileobj=io.BytesIO(data + tarwriter.END)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        prefix = "p/" + "q" * 120
        assert list(members) == [prefix, f"{prefix}/sub", f"{prefix}/a.txt",
                                 f"{prefix}/sub/ünï.txt"]
        assert stat.S_IMODE(members[f"{prefix}/a.txt"].mode) == 0o4751
        assert members[f"{prefix}/a.txt"].mtime == int(os.stat(root / "a.txt").st_mtime // 1)
        assert tar.extractfile(f"{prefix}/sub/ünï.txt").read() == b"x" * 700
    files = {"a.txt": {"size": 0, "sha256": hashlib.sha256(b"").hexdigest()},
             "sub/ünï.txt": {"size": 700, "sha256": hashlib.sha256(b"x" * 700).hexdigest()}}
    assert files_text == manifest.encode(files) == json.dumps(files) and count == 2
    assert list(dirs) == ["sub"] and total == 700
    # without the file a job must hold at its top level (there, not deeper): declined
    assert mod.pack_tree(str(root), "p", layout.TMP_PREFIX, "ünï.txt") is None
    assert mod.pack_tree(str(root), "p", layout.TMP_PREFIX, "b.txt") is None


@settings(max_examples=200, deadline=None)
@given(name=NAME)
def test_pack_tree_files_text_is_json_dumps(tmp_path_factory, name):
    """The manifest's "files" of a job as the native loop writes it: json.dumps of the dict
    (escapes of quotes, backslashes, control characters, non-ASCII and astral names)."""
    mod = need()
    root = tmp_path_factory.mktemp("names")
    (root / layout.STATEPOINT).write_bytes(b"{}")
    try:
        (root / name).write_bytes(name.encode())
    except OSError:  # a name this file system refuses
        return
    packed = mod.pack_tree(str(root), "job", layout.TMP_PREFIX, layout.STATEPOINT)
    if layout.TMP_PREFIX in name or name == layout.STATEPOINT:
        return
    files = {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
             for n, d in sorted([(layout.STATEPOINT, b"{}"), (name, name.encode())])}
    assert packed[1] == json.dumps(files) and packed[2] == 2


# ---- import: the native scan of plain members and the Python reader take the same ----

MEMBER_NAMES = st.sampled_from([
    "job", "job/a.txt", "job/sub", "job/sub/b.bin", "job/" + layout.STATEPOINT,
    layout.STATEPOINT, "other/x", "j2/ünï.txt", "j2/" + "n" * 97, "j2/" + "l" * 130,
    "../escape", "/abs", "job//double", "./job/dot", "job/./c", "job/..", "a\\b", "C:x",
    "job/sub/", "suite-manifest.json", "", "job/d\udcff", "j2/" + "../" * 40 + "x",
    "job/" + "é" * 60, "j2/" + "l" * 120 + "/" + "m" * 20,
])
HEADER_ODDITY = st.sampled_from(["", "", "", "spaces", "badsum", "prefix", "oldflag",
                                 "linkname", "plus"])
MEMBER = st.tuples(MEMBER_NAMES, st.sampled_from(["file", "file", "dir", "symlink",
                                                  "hardlink", "fifo"]),
                   st.one_of(st.integers(0, 700), st.sampled_from([(1 << 18) + 1, 5000])),
                   st.integers(0, 0o7777), st.sampled_from([0, 1, 1_700_000_000, 8**11 - 1, -5]),
                   HEADER_ODDITY)


def with_checksum(block):
    b = bytearray(block)
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\x00 " % sum(b)
    return bytes(b)


def tar_bytes(members, end):
    """A tar stream of the generated members, written as tarwriter does, then made odd."""
    out = b""
    for name, kind, size, mode, mtime, oddity in members:
        link = "job/a.txt" if kind in ("symlink", "hardlink") else ""
        size = size if kind == "file" else 0
        raw = name.encode("utf-8", "surrogateescape")  # a name that is not UTF-8 is
        shown = name.replace("\udcff", "X")  # written with X, then its byte put back
        head = tarwriter.member_header(shown + "/" if kind == "dir" else shown, size, mode,
                                       mtime, "file" if kind == "fifo" else kind, link)
        pre, block = bytearray(head[:-512]), bytearray(head[-512:])
        if shown != name:
            block[:len(raw)] = raw
        if kind == "fifo":
            block[156:157] = b"6"
        if oddity == "spaces":
            block[100:107] = b"%7o" % (mode & 0o7777)
        elif oddity == "prefix":
            block[345:348] = b"pre"
        elif oddity == "oldflag" and kind == "file":
            block[156:157] = b"\x00"
        elif oddity == "linkname" and kind == "file":
            block[157:160] = b"odd"
        elif oddity == "plus":
            block[124:135] = b"+%010o" % size
        block = with_checksum(block)
        if oddity == "badsum":
            block = block[:150] + b"7" + block[151:]
        data = os.urandom(size) if kind == "file" else b""
        out += bytes(pre) + block + data + tarwriter.padding(len(data))
    return out + (tarwriter.END if end else b"")


def staged_tree(root):
    """Every file under ``root``: relative path -> (bytes, mode, mtime); "now" for a time
    given at creation (members without one)."""
    import time

    now, tree = time.time_ns(), {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            st_ = os.lstat(path)
            with open(path, "rb") as f:
                mtime = st_.st_mtime_ns
                tree[os.path.relpath(path, root)] = (
                    f.read(), stat.S_IMODE(st_.st_mode),
                    "now" if abs(now - mtime) < 3600 * 10**9 else mtime)
    return tree


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.lists(MEMBER, max_size=14), end=st.booleans(),
       chunk=st.sampled_from([512, 1000, 1536, 4096, 1 << 20]),
       limit=st.sampled_from([None, None, 2000]), stage=st.booleans(),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3))
def test_scan_native_takes_what_the_python_reader_takes(tmp_path_factory, monkeypatch, members,
                                                        end, chunk, limit, stage, flips):
    from archive import importer, tarreader

    mod = need()
    tmp = tmp_path_factory.mktemp("scan")
    path = tmp / "a.tar"
    data = bytearray(tar_bytes(members, end))
    for at, value in flips if data else ():  # damaged bytes anywhere, headers included
        data[at % len(data)] = value
    path.write_bytes(data)
    monkeypatch.setattr(tarreader, "CHUNK", chunk)  # members across buffer ends, often
    outcomes = []
    for way, module in (("native", mod), ("pure", None)):
        monkeypatch.setattr(importer, "_tarpack", module)
        staging = tmp / way
        staging.mkdir()
        try:
            found = importer.scan(tarformat.TarReader(str(path), "tar"),
                                  str(staging) if stage else None, str(path), limit)
        except archive.ArchiveError as exc:
            outcomes.append(("raises", type(exc), str(exc), staged_tree(staging)))
        else:
            outcomes.append(("ok", found.staged, found.small, found.dir_attrs,
                             found.manifest,
                             found.stage and {k: os.path.relpath(v, staging)
                                              for k, v in found.stage.dirs.items()},
                             staged_tree(staging)))
    assert outcomes[0] == outcomes[1]


def test_scan_native_takes_plain_members(tmp_path, monkeypatch):
    """The native scan is used: a stream of plain members (some with a pax path) is staged
    without the Python reader parsing any of them (its header parsers are never called)."""
    from archive import importer, tarreader

    need()
    # half of them with names past 100 bytes: a pax header holding the path before each
    names = [f"job{i}/f.txt" if i % 2 else f"job{i}/{'long-' * 25}ü.txt" for i in range(50)]
    data = b"".join(tarwriter.member_header(name, 3, 0o640, 1_700_000_000, "file")
                    + b"abc" + tarwriter.padding(3) for name in names)
    path = tmp_path / "a.tar"
    path.write_bytes(data + tarwriter.END)
    parsed = []
    real, real_pax = tarreader._ordinary, tarreader._pax_records
    monkeypatch.setattr(tarreader, "_ordinary", lambda b: parsed.append(b) or real(b))
    monkeypatch.setattr(tarreader, "_pax_records", lambda b: parsed.append(b) or real_pax(b))
    (tmp_path / "s").mkdir()
    found = importer.scan(tarformat.TarReader(str(path), "tar"), str(tmp_path / "s"),
                          str(path))
    assert list(found.staged) == names and len(parsed) == 1  # only the end-of-archive block
    tree = staged_tree(tmp_path / "s")
    assert sorted(v[:2] for v in tree.values()) == [(b"abc", 0o640 & ~found.stage.umask)] * 50
    assert {v[2] for v in tree.values()} == {1_700_000_000 * 10**9}


def test_scan_native_hands_back_a_staging_directory_it_cannot_make(tmp_path, monkeypatch):
    """Stage.dir_for in C: where the staging directory cannot be made (here: it exists
    already), the member goes back to the Python reader, whose dir_for raises the OSError;
    the directories made before it are counted as Stage.dir_for counts them."""
    from archive import importer

    need()
    path = tmp_path / "a.tar"
    path.write_bytes(b"".join(tarwriter.member_header(f"job{i}/f.txt", 3, 0o644, 0, "file")
                              + b"abc" + tarwriter.padding(3) for i in range(3))
                     + tarwriter.END)
    for way, module in (("native", tarpack), ("pure", None)):
        monkeypatch.setattr(importer, "_tarpack", module)
        staging = tmp_path / way
        staging.mkdir()
        (staging / "d1").mkdir()
        holder = [None]
        with pytest.raises(FileExistsError, match="d1"):
            importer.scan(tarformat.TarReader(str(path), "tar"), str(staging), str(path),
                          holder=holder)
        assert holder[0].dirs == {"job0": f"{staging}/d0"} and holder[0]._count == 2
        assert sorted(os.listdir(staging)) == ["d0", "d1"]


# ---- import: a job's manifest files against the members read ----

SHA = st.sampled_from(["a" * 64, "b" * 64, hashlib.sha256(b"").hexdigest()])
REL = st.sampled_from(["a.txt", "sub/b.bin", "./a.txt", "sub//b.bin", "c", "ü.txt"])
INFO = st.one_of(
    st.fixed_dictionaries({"size": st.integers(0, 3), "sha256": SHA}),
    st.fixed_dictionaries({"size": st.sampled_from([True, 1.0, "1", None]), "sha256": SHA}),
    st.fixed_dictionaries({"sha256": SHA}), st.fixed_dictionaries({"size": st.integers(0, 3)}))
HAVE = st.one_of(st.tuples(st.just("file"), st.integers(0, 3), SHA),
                 st.tuples(st.sampled_from(["dir", "symlink"]), st.just(0),
                           st.sampled_from([None, "a.txt"])))


@settings(max_examples=400, deadline=None)
@given(files=st.dictionaries(REL, INFO, max_size=4),
       staged=st.dictionaries(REL.map(lambda r: "job/" + r), HAVE, max_size=5),
       copy=st.booleans())
def test_match_files_agrees_with_the_reference(files, staged, copy):
    """The native check takes a job's files only where the reference takes them, with the
    same result; everything else (a refusal, a name in another spelling) it leaves to the
    reference."""
    from archive import importer

    mod = need()
    if copy:  # the common case: every file present as the manifest says
        staged = {**staged, **{f"job/{rel}": ("file", info["size"], info["sha256"])
                               for rel, info in files.items()
                               if type(info.get("size")) is int and "sha256" in info}}
    got = mod.match_files(files, "job", staged, "file")
    try:
        want = ("ok", importer._manifest_files(files, "job", staged, "x"))
    except archive.ArchiveError:
        want = ("raises", None)
    if got is not None:
        assert want == ("ok", got) and list(got) == list(files)
    else:
        assert want[0] == "raises" or any(f"job/{rel}" not in staged for rel in files) \
            or any(type(i.get("size")) is not int for i in files.values())


def test_match_files_takes_the_plain_case_and_refuses_bad_arguments():
    mod = need()
    files = {"a.txt": {"size": 3, "sha256": "a" * 64}, "sub/b": {"size": 0, "sha256": "b" * 64}}
    staged = {"p/q/a.txt": ("file", 3, "a" * 64), "p/q/sub/b": ("file", 0, "b" * 64)}
    assert mod.match_files(files, "p/q", staged, "file") == {"a.txt": (3, "a" * 64),
                                                             "sub/b": (0, "b" * 64)}
    assert mod.match_files({}, "p", {}, "file") == {}
    for args in ((list(files), "p/q", staged, "file"), (files, b"p/q", staged, "file"),
                 (files, "p/q", list(staged), "file")):
        with pytest.raises(TypeError):
            mod.match_files(*args)


SEGMENT = st.sampled_from(["a", "b", "ü", "c d", ""])
MEMBER_PATH = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)


KINDS_READ = st.tuples(st.sampled_from(["file", "dir", "symlink"]), st.integers(0, 3))


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(staged=st.dictionaries(MEMBER_PATH, KINDS_READ, max_size=12),
       paths=st.lists(MEMBER_PATH, max_size=5))
def test_group_by_job_agrees_with_the_reference(monkeypatch, staged, paths):
    """Members by job, natively and by importer._by_job's Python loop (the reference)."""
    from archive import importer
    from archive.importer import Scan

    mod = need()
    found = Scan(staged, None, {}, None)
    native_result = importer._by_job(found, paths)
    assert native_result == mod.group_by_job(staged, paths, "dir")
    monkeypatch.setattr(importer, "_tarpack", None)
    reference = importer._by_job(found, paths)
    assert native_result == reference
    assert [list(m) for m in native_result[0].values()] == [list(m) for m in reference[0].values()]


def test_group_by_job_declines_odd_names_and_raises_as_the_reference():
    mod = need()
    assert mod.group_by_job({5: ("file", 0)}, ["a"], "dir") is None
    with pytest.raises(TypeError):
        mod.group_by_job(["a/b"], ["a"], "dir")
    with pytest.raises(TypeError):
        mod.group_by_job({"x": None}, ["a"], "dir")  # None[0], as the reference's v[0]
    with pytest.raises(TypeError):
        mod.group_by_job({}, 5, "dir")


# ---- the members read, by name: MemberTable against the dict it stands for ----

TABLE_NAMES = st.sampled_from(["a", "a/b", "é/x", "a/\udcff", "\udcc3\udca9", "é", "",
                               "j/" + "n" * 70, "j/" + "n" * 71, "x" * 8, "x" * 16])
TABLE_OPS = st.lists(st.tuples(st.sampled_from(["file", "dir", "set", "get", "in", "item"]),
                               TABLE_NAMES, st.integers(0, 1 << 40), st.binary(min_size=32,
                                                                               max_size=32)),
                     max_size=40)


@settings(max_examples=300, deadline=None)
@given(ops=TABLE_OPS)
def test_member_table_is_the_dict_it_stands_for(ops):
    """The table answers in, [], get and len as the dict of the same members, and to_dict()
    is that dict in order; names with surrogates (the Python reader's) never meet the UTF-8
    names of the native entries ("\\udcc3\\udca9" is not "é")."""
    mod = need()
    table, ref = mod.MemberTable("file", "dir"), {}
    for op, name, size, digest in ops:
        if op in ("file", "dir"):
            strict = True
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                strict = False
            if name in ref or not strict:
                with pytest.raises(KeyError if strict else UnicodeEncodeError):
                    table.add_file(name, size, digest) if op == "file" else table.add_dir(name)
                continue
            if op == "file":
                table.add_file(name, size, digest)
                ref[name] = ("file", size, digest.hex())
            else:
                table.add_dir(name)
                ref[name] = ("dir", 0, None)
        elif op == "set":
            table[name] = ref[name] = ("symlink", size, name)
        elif op == "get":
            assert table.get(name) == ref.get(name)
            assert table.get(name, 5) == ref.get(name, 5)
        elif op == "in":
            assert (name in table) == (name in ref)
        else:
            if name in ref:
                assert table[name] == ref[name]
            else:
                with pytest.raises(KeyError):
                    table[name]
        assert len(table) == len(ref)
    got = table.to_dict()
    assert got == ref and list(got) == list(ref)


def test_member_table_refuses_what_a_dict_of_names_would_not_hold():
    mod = need()
    table = mod.MemberTable("file", "dir")
    with pytest.raises(TypeError):
        table[b"a"] = 1
    with pytest.raises(TypeError):
        b"a" in table  # noqa: B015
    with pytest.raises(TypeError):
        del table["a"]
    with pytest.raises(ValueError):
        table.add_file("a", 1, b"short")
    with pytest.raises(ValueError):
        table.add_file("a", -1, bytes(32))
    assert len(table) == 0
