"""Delta-transfer benchmark: throughput of signature/make_delta/apply_delta and delta size vs rsync.

Usage: python bench/bench_delta.py [--sizes 64 256] [--json F]

Rows per size (MiB) and content (random; compressible = text-like): signature, make_delta (new
file = basis with 1 MiB changed in the middle) and apply_delta throughput in MB/s of the file,
and make_delta for an unrelated new file (no block matches: the rolling search at every offset,
the worst case for speed).
Then, for 64 MiB random with 1 MiB changed in the middle: suite's signature + delta bytes next to
`rsync --stats --no-whole-file` between two local directories (bytes sent / received).
"""

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sync import delta  # noqa: E402

MIB = 1 << 20


def content(kind, size, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    # compressible: words from a small vocabulary (zstd ratio about 3-4x)
    words = [f"{w} ".encode() for w in ("alpha", "beta", "T=1.5", "p=3", "model", "0.125", "\n")]
    out = bytearray()
    picks = rng.integers(0, len(words), size // 3)
    out = b"".join(words[i] for i in picks.tolist())
    return out[:size].ljust(size, b" ")


def changed(basis, seed):
    import numpy as np

    mid = len(basis) // 2
    patch = np.random.default_rng(seed).integers(0, 256, MIB, dtype=np.uint8).tobytes()
    return basis[:mid] + patch + basis[mid + MIB :]


def measure(size_mib, kind):
    basis = content(kind, size_mib * MIB, 1)
    new = changed(basis, 2)
    t = time.perf_counter()
    sig = delta.signature(io.BytesIO(basis))
    t_sig = time.perf_counter() - t
    t = time.perf_counter()
    d = delta.make_delta(sig, io.BytesIO(new))
    t_delta = time.perf_counter() - t
    out = io.BytesIO()
    t = time.perf_counter()
    delta.apply_delta(io.BytesIO(basis), d, out)
    t_apply = time.perf_counter() - t
    assert out.getvalue() == new
    # an unrelated file of the same kind: no block matches, the rolling search covers every offset
    unrelated = content(kind, size_mib * MIB, 3)
    t = time.perf_counter()
    d_nomatch = delta.make_delta(sig, io.BytesIO(unrelated))
    t_nomatch = time.perf_counter() - t
    mb = size_mib * MIB / 1e6
    return {
        "size_mib": size_mib,
        "content": kind,
        "signature_MBps": round(mb / t_sig, 1),
        "make_delta_MBps": round(mb / t_delta, 1),
        "apply_MBps": round(mb / t_apply, 1),
        "make_delta_nomatch_MBps": round(mb / t_nomatch, 1),
        "delta_nomatch_bytes": len(d_nomatch),
        "signature_bytes": len(sig.to_bytes()),
        "delta_bytes": len(d),
    }


def rsync_bytes(basis, new):
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
        os.makedirs(src)
        os.makedirs(dst)
        with open(os.path.join(src, "f"), "wb") as f:
            f.write(new)
        with open(os.path.join(dst, "f"), "wb") as f:
            f.write(basis)
        # the destination's mtime differs, so rsync runs its delta algorithm on it
        os.utime(os.path.join(dst, "f"), (0, 0))
        res = subprocess.run(
            ["rsync", "-a", "--stats", "--no-whole-file", src + "/", dst + "/"],
            capture_output=True,
            text=True,
            check=True,
        )
        with open(os.path.join(dst, "f"), "rb") as f:
            assert f.read() == new

    def stat(label):
        m = re.search(label + r":\s*([\d,]+)", res.stdout)
        return int(m.group(1).replace(",", ""))

    return {
        "sent": stat("Total bytes sent"),
        "received": stat("Total bytes received"),
        "literal": stat("Literal data"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args()
    rows = [measure(s, k) for s in args.sizes for k in ("random", "compressible")]
    print(
        f"{'size':>6} {'content':<13} {'sig MB/s':>9} {'delta MB/s':>10} {'apply MB/s':>10} "
        f"{'sig bytes':>10} {'delta bytes':>12} {'nomatch MB/s':>12} {'nomatch B':>10}"
    )
    for r in rows:
        print(
            f"{r['size_mib']:>4}Mi {r['content']:<13} {r['signature_MBps']:>9} "
            f"{r['make_delta_MBps']:>10} {r['apply_MBps']:>10} {r['signature_bytes']:>10} "
            f"{r['delta_bytes']:>12} {r['make_delta_nomatch_MBps']:>12} "
            f"{r['delta_nomatch_bytes']:>10}"
        )
    basis = content("random", 64 * MIB, 1)
    new = changed(basis, 2)
    sig = delta.signature(io.BytesIO(basis))
    suite_sig = len(sig.to_bytes())
    suite_delta = len(delta.make_delta(sig, io.BytesIO(new)))
    rs = rsync_bytes(basis, new)
    cmp = {
        "suite_delta_bytes": suite_delta,
        "suite_signature_bytes": suite_sig,
        "rsync_sent": rs["sent"],
        "rsync_received": rs["received"],
        "rsync_literal": rs["literal"],
        "delta_vs_rsync_sent": round(suite_delta / rs["sent"], 3),
        "total_vs_rsync_total": round((suite_delta + suite_sig) / (rs["sent"] + rs["received"]), 3),
    }
    print("\n64 MiB random, 1 MiB changed in the middle:")
    print(f"  suite: delta {suite_delta} B (sender->receiver), signature {suite_sig} B")
    print(f"  rsync: sent {rs['sent']} B, received {rs['received']} B, literal {rs['literal']} B")
    print(
        f"  delta / rsync sent = {cmp['delta_vs_rsync_sent']} (target <= 1.2); "
        f"total / rsync total = {cmp['total_vs_rsync_total']}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"throughput": rows, "vs_rsync": cmp}, f, indent=1)


if __name__ == "__main__":
    main()
