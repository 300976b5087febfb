"""One side's share of an SSH sync with nothing to do, in one process: CPU, peak RSS and
(``--trace``) tracemalloc's peak, for A/B runs of the record's and the listing's memory.

``record DIR``: write a record of a made-up peer (``f`` * 32) into DIR (a project of
bench/build_scale.py), as a first sync of two equal copies leaves it (every file's size and
mtime on both sides, every document), encoded by this checkout's code. ``far DIR``: the far
side's snapshot ``since`` that record (every job steady: an empty answer). ``near DIR``: this
side's record loaded and its steady listing. Run with PYTHONPATH on the checkout to measure;
``record`` first, with the same checkout."""

import argparse
import json
import resource
import time
import tracemalloc

PEER = "f" * 32


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["record", "far", "near"])
    ap.add_argument("project")
    ap.add_argument("--trace", action="store_true", help="tracemalloc's peak (slow)")
    args = ap.parse_args()
    from sync.replica import Replica, encode_record

    replica = Replica(args.project)
    replica.project.index.documents(["0" * 32])  # the index opened (and fresh) before timing
    if args.trace:
        tracemalloc.start()
    cpu, wall = time.process_time(), time.perf_counter()
    if args.what == "record":
        snap = replica.snapshot()
        jobs = {job_id: {"files": {rel: [s[0], s[1], s[1]] for rel, s in job["files"].items()},
                         "doc": job["doc"]} for job_id, job in snap["jobs"].items()}
        replica.save_record(PEER, encode_record({"jobs": jobs,
                                                 "project_doc": snap["project_doc"]}))
        listed = len(jobs)
    elif args.what == "far":
        listed = len(replica.snapshot(since=PEER)["jobs"])
    else:
        record = replica.load_record(PEER)
        listed = len(replica.snapshot_steady(None, (), record["jobs"])[0]["jobs"])
    out = {"what": args.what, "listed": listed, "cpu s": round(time.process_time() - cpu, 3),
           "wall s": round(time.perf_counter() - wall, 3),
           "peak RSS MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if args.trace:
        out["traced peak MiB"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
