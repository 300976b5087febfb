"""suite's own tar reader and writer against ``tarfile`` and GNU tar: every header form they
write reads back the same, and damaged streams are refused rather than cut short."""

import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

import archive
import suite
from archive import tarwriter
from archive.base import DIR, FILE, HARDLINK, OTHER, SYMLINK
from archive.tarformat import TarReader
from archive.tarreader import TarStream, _number

KINDS = {tarfile.REGTYPE: FILE, tarfile.AREGTYPE: FILE, tarfile.DIRTYPE: DIR,
         tarfile.SYMTYPE: SYMLINK, tarfile.LNKTYPE: HARDLINK, tarfile.FIFOTYPE: OTHER}

LONG = "very-long-directory-name-" * 5  # > 100 characters with its parents


def sample_members():
    """(name, type, data, linkname) covering the header forms."""
    return [
        ("top", tarfile.DIRTYPE, b"", ""),
        ("top/empty.txt", tarfile.REGTYPE, b"", ""),
        ("top/block.bin", tarfile.REGTYPE, bytes(range(256)) * 2, ""),  # exactly 512
        ("top/odd.bin", tarfile.REGTYPE, b"x" * 513, ""),
        ("top/big.bin", tarfile.REGTYPE, os.urandom(3 << 20), ""),  # > the read chunk
        (f"top/{LONG}/{LONG}/deep.txt", tarfile.REGTYPE, b"deep", ""),
        ("top/" + "n" * 99, tarfile.REGTYPE, b"99", ""),
        ("top/ünïcödé-名前.txt", tarfile.REGTYPE, "ü".encode(), ""),
        ("top/link", tarfile.SYMTYPE, b"", "block.bin"),
        ("top/longlink", tarfile.SYMTYPE, b"", f"{LONG}/{LONG}/deep.txt"),
        ("top/hard", tarfile.LNKTYPE, b"", "top/odd.bin"),
        ("top/fifo", tarfile.FIFOTYPE, b"", ""),
    ]


def write_tar(path, fmt, members, mode="w"):
    with tarfile.open(path, mode, format=fmt) as tar:
        for name, kind, data, link in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o640
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


def read_all(path, fmt):
    out = []
    for member, stream in TarReader(str(path), fmt).members():
        data = stream.read() if member.kind == FILE else None
        out.append((member.name, member.kind, member.size if member.kind == FILE else 0,
                    member.linkname if member.kind in (SYMLINK, HARDLINK) else "",
                    hashlib.sha256(data).hexdigest() if data is not None else None))
    return out


def expected(members):
    return [(name.rstrip("/"), KINDS[kind], len(data) if kind == tarfile.REGTYPE else 0, link,
             hashlib.sha256(data).hexdigest() if kind == tarfile.REGTYPE else None)
            for name, kind, data, link in members]


@pytest.mark.parametrize("tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT,
                                        tarfile.USTAR_FORMAT])
@pytest.mark.parametrize("fmt, mode", [("tar", "w"), ("tar.gz", "w:gz"), ("tar.bz2", "w:bz2"),
                                       ("tar.xz", "w:xz")])
def test_reader_matches_tarfile(tmp_path, tar_format, fmt, mode):
    members = sample_members()
    if tar_format == tarfile.USTAR_FORMAT:  # ustar: long names split into prefix and name
        members = [m for m in members if m[0] != "top/longlink" and LONG not in m[0]]
        members = [m if "ü" not in m[0] else ("top/ascii.txt", *m[1:]) for m in members]
        members.append(("top/" + "p" * 80 + "/" + "q" * 60 + "/deep.txt", tarfile.REGTYPE,
                        b"in prefix", ""))
    path = write_tar(tmp_path / f"t.{fmt}", tar_format, members, mode)
    assert read_all(path, fmt) == expected(members)


def test_reader_zstd_across_frames(tmp_path):
    """A zstandard file of several frames (as parallel compressors write) is read whole."""
    members = sample_members()
    raw = write_tar(tmp_path / "t.tar", tarfile.PAX_FORMAT, members).read_bytes()
    cctx = zstandard.ZstdCompressor()
    cut = len(raw) // 3
    (tmp_path / "t.tar.zst").write_bytes(cctx.compress(raw[:cut]) + cctx.compress(raw[cut:]))
    assert read_all(tmp_path / "t.tar.zst", "tar.zst") == expected(members)


@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar program")
def test_reader_reads_system_tar(tmp_path):
    src = tmp_path / "src"
    deep = src / LONG / LONG
    os.makedirs(deep)
    (deep / "f.txt").write_bytes(b"from tar")
    (src / "ünï.txt").write_bytes(b"u")
    os.symlink(f"{LONG}/{LONG}/f.txt", src / "l")
    subprocess.run(["tar", "-cf", str(tmp_path / "sys.tar"), "-C", str(src), "."], check=True)
    got = {name.lstrip("./"): (kind, link) for name, kind, _, link, _ in
           read_all(tmp_path / "sys.tar", "tar")}
    assert got[f"{LONG}/{LONG}/f.txt"] == (FILE, "")
    assert got["ünï.txt"] == (FILE, "")
    assert got["l"] == (SYMLINK, f"{LONG}/{LONG}/f.txt")


def test_our_headers_read_by_tarfile(tmp_path):
    """Headers from :mod:`archive.tarwriter` (ustar, pax for long or non-ASCII names)."""
    names = ["a.txt", "d/" + "x" * 120 + "/f", "ü/名.txt"]
    buf = io.BytesIO()
    for name in names:
        buf.write(tarwriter.member_header(name, 3, 0o640, 1_700_000_000, "file"))
        buf.write(b"abc" + tarwriter.padding(3))
    buf.write(tarwriter.member_header("s", 0, 0o777, 0, "symlink", "t" * 150))
    buf.write(tarwriter.END)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == names + ["s"]
    assert infos[0].mode == 0o640 and infos[0].mtime == 1_700_000_000 and infos[0].size == 3
    assert infos[-1].issym() and infos[-1].linkname == "t" * 150


def test_numbers():
    assert _number(b"0000644\x00") == 0o644
    assert _number(b" 644  \x00\x00") == 0o644
    assert _number(b"\x00" * 8) == 0
    assert _number(b"\x80" + bytes(10) + b"\x05") == 5  # GNU base-256
    with pytest.raises(archive.ArchiveError):
        _number(b"12x4\x00\x00\x00\x00")


def plain_tar(tmp_path):
    return write_tar(tmp_path / "t.tar", tarfile.PAX_FORMAT,
                     [("a/1.txt", tarfile.REGTYPE, b"x" * 1000, ""),
                      ("a/2.txt", tarfile.REGTYPE, b"y" * 10, "")]).read_bytes()


@pytest.mark.parametrize("keep", ["mid-data", "mid-header", "no-end-block"])
def test_truncated_plain_tar_refused(tmp_path, keep):
    raw = plain_tar(tmp_path)
    cut = {"mid-data": 512 + 600, "mid-header": 3 * 512 + 100, "no-end-block": 4 * 512}[keep]
    (tmp_path / "cut.tar").write_bytes(raw[:cut])
    with pytest.raises(archive.ArchiveError, match="damaged"):
        read_all(tmp_path / "cut.tar", "tar")


def test_bad_header_checksum_refused(tmp_path):
    raw = bytearray(plain_tar(tmp_path))
    raw[3 * 512 + 10] ^= 0x55  # inside the second member's name
    (tmp_path / "bad.tar").write_bytes(bytes(raw))
    with pytest.raises(archive.ArchiveError, match="checksum"):
        read_all(tmp_path / "bad.tar", "tar")


def test_truncated_archive_import_refused(project, tmp_path):
    for i in range(3):
        project.open_job({"i": i}).init()
    target = tmp_path / "t.tar"
    archive.export_jobs(project, target)
    data = target.read_bytes()
    target.write_bytes(data[:len(data) - 1536])  # the end blocks and part of the manifest
    other = suite.init_project(tmp_path / "o")
    with pytest.raises(archive.ArchiveError, match="damaged"):
        archive.import_jobs(other, target)
    assert len(other) == 0


def test_gzip_members_damaged_midway(project, tmp_path):
    job = project.open_job({"i": 1}).init()
    with open(job.fn("data.bin"), "wb") as f:
        f.write(os.urandom(200_000))
    target = tmp_path / "t.tar.gz"
    archive.export_jobs(project, target)
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(archive.ArchiveError, match="damaged"):
        archive.import_jobs(suite.init_project(tmp_path / "o"), target)
    with pytest.raises((gzip.BadGzipFile, OSError, EOFError, Exception)):
        gzip.decompress(bytes(raw))


def test_gzip_export_names_no_temporary_file_and_repeats_byte_for_byte(project, tmp_path):
    # the export writes a temporary file and renames it: its name (with the process id)
    # must not reach the gzip header, where `gzip -l -N` and `gunzip -N` would show and
    # use it, and which made two exports of the same jobs differ
    for i in range(3):
        project.open_job({"i": i}).init()
    runs = []
    for k in range(2):  # two processes: two process ids
        target = tmp_path / f"t{k}.tar.gz"
        subprocess.run(["suite", "export", str(target)], cwd=project.path, check=True,
                       capture_output=True)
        runs.append(target.read_bytes())
    raw = runs[0]
    assert raw[:3] == b"\x1f\x8b\x08"
    assert raw[3] & 0x08 == 0, "FNAME set in the gzip header"
    assert b"suite-tmp" not in raw[:64]
    assert runs[0] == runs[1]


@pytest.fixture
def tricky(project):
    """Jobs with nested and empty directories, links inside the job, big and odd-sized
    files."""
    for i in range(2):
        job = project.open_job({"i": i}).init()
        job.doc.i = i
        os.makedirs(job.fn("b/c"))
        os.makedirs(job.fn("a/empty"))
        with open(job.fn("b/c/big.bin"), "wb") as f:
            f.write(os.urandom((1 << 20) + 7))  # read in chunks, not whole
        with open(job.fn("b/mid.bin"), "wb") as f:
            f.write(os.urandom(300_000))  # above the import's small-file size
        with open(job.fn("zero"), "wb"):
            pass
        with open(job.fn("b/c/block"), "wb") as f:
            f.write(b"z" * 512)
        os.symlink("b/c/block", job.fn("to-file"))
        os.symlink("b/c", job.fn("to-dir"))
        os.chmod(job.fn("b/mid.bin"), 0o600)
    return project


def tree(job_path):
    out = {}
    for dirpath, dirnames, filenames in os.walk(job_path):
        rel = os.path.relpath(dirpath, job_path)
        for d in dirnames:
            full = os.path.join(dirpath, d)
            out[os.path.join(rel, d)] = ("link", os.readlink(full)) if os.path.islink(full) \
                else ("dir",)
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                out[os.path.join(rel, name)] = ("link", os.readlink(full))
            else:
                with open(full, "rb") as f:
                    out[os.path.join(rel, name)] = ("file", hashlib.sha256(f.read()).hexdigest())
    return out


@pytest.mark.parametrize("ending", ["", ".tar", ".tar.zst", ".tar.gz", ".zip"])
def test_tricky_jobs_round_trip(tricky, tmp_path, ending):
    target = tmp_path / f"x{ending}"
    result = archive.export_jobs(tricky, target)
    assert result.files == 2 * 6  # sp, doc, big, mid, zero, block (links are not files)
    assert archive.verify(target).ok
    other = suite.init_project(tmp_path / "o")
    assert len(archive.import_jobs(other, target).imported) == 2
    for job in tricky:
        assert tree(other.open_job(id=job.id).path) == tree(job.path)


def test_tar_member_order_is_a_sorted_walk(tricky, tmp_path):
    """Members come in the order of a sorted top-down walk (directories of a level first)."""
    target = tmp_path / "x.tar"
    archive.export_jobs(tricky, target, schema="i_<i>")
    with tarfile.open(target) as tar:
        names = [i.name for i in tar.getmembers() if i.name.startswith("i_0/")]
    files = ["signac_job_document.json", "signac_statepoint.json", "to-dir", "to-file", "zero"]
    assert names == (["i_0/a", "i_0/b"] + [f"i_0/{f}" for f in files]
                     + ["i_0/a/empty", "i_0/b/c", "i_0/b/mid.bin", "i_0/b/c/big.bin",
                        "i_0/b/c/block"])


@pytest.mark.timeout(60)
def test_links_out_of_a_job_and_fifos_skipped_on_export(project, tmp_path):
    job = project.open_job({"i": 1}).init()
    os.symlink("../..", job.fn("escape"))
    os.mkfifo(job.fn("pipe"))
    result = archive.export_jobs(project, tmp_path / "x.tar.zst")
    assert sorted(s["path"] for s in result.skipped) == ["escape", "pipe"]
    names = [name for name, *_ in read_all(tmp_path / "x.tar.zst", "tar.zst")]
    assert not [n for n in names if n.endswith(("escape", "pipe"))]


@pytest.mark.parametrize("change, message", [(+5, "shrank"), (-5, "grew")])
def test_file_changing_size_during_export_refused(project, tmp_path, monkeypatch, change,
                                                   message):
    """The size is taken once (fstat); the data read must match it exactly."""
    job = project.open_job({"i": 1}).init()
    with open(job.fn("data.bin"), "wb") as f:
        f.write(b"d" * 100)
    from archive import export as export_module

    real_fstat = os.fstat

    def fstat(fd):
        st = real_fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_size == 100:
            values = list(st[:10])
            values[6] += change
            return os.stat_result(values)
        return st

    monkeypatch.setattr(export_module.os, "fstat", fstat)
    # the Python walk's fstat is what is faked; the native loop (archive._tarpack) hands any
    # file whose read disagrees with its fstat to that walk, which decides
    from archive import tarformat

    monkeypatch.setattr(tarformat, "_tarpack", None)
    with pytest.raises(archive.ArchiveError, match=message):
        archive.export_jobs(project, tmp_path / "x.tar.zst")


def test_stage_with_interleaved_directories(tmp_path):
    """Files of many directories, arriving interleaved, written by the stage or by the caller
    at the path it gives, all land complete in one staging directory per archive directory."""
    from archive.importer import Stage

    stage = Stage(str(tmp_path))
    want = {}
    try:
        for i in range(400):
            name = f"job{i % 7}/sub{i % 3}/f{i}"
            data = os.urandom(i % 50)
            if i % 37 == 0:  # a big member, written by the caller
                with open(stage.file_path(name), "xb") as f:
                    f.write(data)
            else:
                stage.write(name, data)
            want[name] = data
        stage.wait()
    finally:
        stage.close()
    for name, data in want.items():
        parent, base = name.rsplit("/", 1)
        with open(os.path.join(stage.dirs[parent], base), "rb") as f:
            assert f.read() == data


_name_part = st.text(st.sampled_from("abz_.-ü名 0"), min_size=1, max_size=40).filter(
    lambda s: s not in (".", ".."))


@settings(max_examples=60, deadline=None)
@given(members=st.lists(st.tuples(
    st.lists(_name_part, min_size=1, max_size=4).map("/".join),
    st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE]),
    st.binary(max_size=700), st.integers(0, 0o7777), st.integers(0, 8**11 - 1),
    st.text(st.sampled_from("abc/."), min_size=1, max_size=120)), min_size=1, max_size=12),
    tar_format=st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]))
def test_every_header_field_read_as_tarfile_reads_it(members, tar_format):
    """Name, kind, size, mode, mtime and link target of each member, from headers written by
    tarfile in every format (the ordinary ustar ones take the reader's fast path, the rest its
    general parser), equal what tarfile reads from the same bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tar_format) as tar:
        for name, kind, data, mode, mtime, link in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kind, mode, mtime
            info.linkname = link if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            try:
                tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
            except ValueError:  # a name or link ustar cannot hold
                return
    raw = buf.getvalue()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        want = [(i.name, KINDS[i.type], i.size, i.mode, i.mtime, i.linkname,
                 tar.extractfile(i).read() if i.isfile() else None) for i in tar.getmembers()]
    got = [(m.name, m.kind, m.size, m.mode, m.mtime, m.linkname,
            s.read() if m.kind == FILE else None)
           for m, s in TarStream(io.BytesIO(raw)).members()]
    assert got == want


@pytest.mark.skipif(shutil.which("tar") is None or shutil.which("zstd") is None,
                    reason="no tar or zstd program")
def test_gnu_tar_extracts_an_export_exactly(tricky, tmp_path):
    """GNU tar reads suite's headers (ustar, pax for a long name) and gets every job back
    byte for byte, with its links and file modes."""
    long_job = tricky.open_job({"i": "x" * 150}).init()  # its path needs a pax record
    with open(long_job.fn("data.txt"), "w") as f:
        f.write("long")
    target = tmp_path / "x.tar.zst"
    result = archive.export_jobs(tricky, target, schema="i_<i>")
    out = tmp_path / "gnu"
    out.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(target), "-C", str(out)], check=True)
    for job in tricky:
        path = out / result_path(job, result)
        assert tree(path) == tree(job.path)
        for rel in ("b/mid.bin", "signac_statepoint.json"):
            if os.path.exists(job.fn(rel)):
                assert stat.S_IMODE(os.stat(path / rel).st_mode) == \
                    stat.S_IMODE(os.stat(job.fn(rel)).st_mode)
    assert (out / "suite-manifest.json").is_file()


def result_path(job, result):
    from suite.pathschema import PathSchema

    return PathSchema.parse(result.schema).format(job.id, job.sp())
