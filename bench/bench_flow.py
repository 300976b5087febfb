"""Workflow benchmark: suite vs signac-flow 0.29.1 side by side.

Usage: python bench/bench_flow.py [-n 10000] [--status-n 100000] [--repeat 2] [--json F]
                                  [--group-n 1000] [--project-status-n 10000]

A project of N jobs, 3 operations (the first trivial and always eligible until done), 2 labels.
Rows (fresh CLI processes): status; run the trivial operation over all jobs; the same run again
with nothing eligible. --status-n also times status alone on a larger project.

--group-n: a group of 2 operations over that many jobs, run as `python project.py run -o
both` by signac-flow and by suite.flow (the same project.py, two import lines changed), and
the same group as suite's own workflow.py with `suite run -o both`; beside them, the two
operations run one by one with suite. --project-status-n: `python project.py status` of the
3-operation workflow as a suite.flow FlowProject, beside signac-flow's and `suite status` of
the same workflow (best of 2 each, after one call that builds suite's index).

--history-n D: per execution with records on, for jobs whose logs hold 1 and D records (a new
runner per round: each first record of a job learns which blobs its log holds).

--succeeded-n N (with --history-n D): `suite status` over N jobs whose logs hold 1 and D records,
with an operation without postconditions (complete once it succeeded, by the log): the first
status after the logs were written (cold) and the next ones (warm, best of --repeat), wall and
CPU, for each tree given by --tree NAME=PATH (default: this checkout), taking turns.

--job-status-n N (with --history-n D): signac-flow's per-job loop `for job in project:
project.get_job_status(job)` over N jobs whose logs hold D records, an operation gated by
pre.succeeded (read from the log): in one process the first loop and the same loop again, then
the first loop of a second process (the cache stored at the first one's exit); wall and CPU
seconds per loop, for each --tree; with suite.flow.project.SAVE_EVERY=1 too where the tree has
it (a cache write per job, the cost batching avoids).

--records-n: `suite run -o first` over that many jobs with provenance records on (code,
environment, file scans: the default) and off (SUITE_RECORDS=off: the one-line record suite
wrote before), on fresh projects, back to back in each of --records-rounds rounds (default 8);
the best of each, and the median of the rounds' on/off ratios with a bootstrap 95 % interval
(each round's numbers are in the JSON).
Before that, in one process, the same executions with records on and off taking turns job by
job (µs per execution; immune to the drift that moves whole runs), and taking turns chunk by
chunk between records off, each scan alone, both scans and full records (where the cost goes).
--records-whole-run: only the whole runs (their best, and the median and worst round of each).
--records-paired: also --repeat rounds in which records off and on start at the same moment
(CPU; for a busy machine, where rounds taken in turns see different loads).
"""

import argparse
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import common

SUITE_WORKFLOW = '''
from suite.flow import Workflow

class Bench(Workflow):
    pass

@Bench.label
def started(job):
    return "step" in job.doc

@Bench.label
def even(job):
    return job.sp.a % 2 == 0

@Bench.post.true("step")
@Bench.operation
def first(job):
    job.doc.step = 1

@Bench.pre.true("step")
@Bench.post.isfile("second.txt")
@Bench.operation
def second(job):
    pass

@Bench.pre.isfile("second.txt")
@Bench.post.true("done")
@Bench.operation
def third(job):
    pass
'''

# the same workflow for signac-flow: same decorators, its class name, and its entry point
FLOW_PROJECT = SUITE_WORKFLOW.replace("from suite.flow import Workflow",
                                      "from flow import FlowProject").replace(
    "(Workflow)", "(FlowProject)") + """
if __name__ == "__main__":
    Bench().main()
"""


#: SLURM's and Grid Engine's commands are installed here for the tests, but no scheduler runs
#: outside them: signac-flow would find squeue or qstat and fail on it, so both tools run
#: without them (a workstation)
SCHEDULER_COMMANDS = {"sbatch", "squeue", "scancel", "scontrol", "sinfo", "srun", "salloc",
                      "sacct", "sacctmgr", "qsub", "qstat", "qdel", "qconf", "qrls", "qhold",
                      "qalter", "qacct", "qhost", "qmod", "qselect", "qrsh", "qlogin", "bsub",
                      "bjobs", "bkill"}
ENV = None


def wall(args, cwd):
    # what earlier steps left to write back (building 30,000 jobs a round) is written first:
    # otherwise whichever tool runs while the kernel flushes it pays for it
    os.sync()
    return common.wall(args, cwd, env=ENV)


def build(path, n):
    import suite

    p = suite.init_project(path)
    for i in range(n):
        p.open_job({"a": i, "b": i % 7}).init()
    p.find_jobs().ids()
    return p


def write_floor(workspace):
    """Seconds that plain system calls in one thread take to do the run row's writes: in every
    job directory, a document through a temporary file and a rename (as both tools write it)
    and a new one-line log (suite's provenance; suite writes these from a second thread when
    they are slow, so it can go below this)."""
    dirs = [e.path for e in os.scandir(workspace)]
    line = b"x" * 200 + b"\n"
    t = time.perf_counter()
    for d in dirs:
        fd = os.open(d + "/.tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b'{"step": 1}')
        os.close(fd)
        os.replace(d + "/.tmp", d + "/signac_job_document.json")
        fd = os.open(d + "/log.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(fd, line)
        os.close(fd)
    return time.perf_counter() - t


GROUP_PROJECT = """
from flow import FlowProject


class Project(FlowProject):
    pass


both = Project.make_group("both")


@both
@Project.post.true("step")
@Project.operation
def first(job):
    job.doc.step = 1


@both
@Project.pre.true("step")
@Project.post.true("done")
@Project.operation
def second(job):
    job.doc.done = True


if __name__ == "__main__":
    Project().main()
"""

GROUP_WORKFLOW = GROUP_PROJECT.replace("from flow import FlowProject",
                                       "from suite.flow import Workflow").replace(
    "(FlowProject)", "(Workflow)").split("if __name__")[0]


def suite_flow(source):
    """A signac-flow project.py as a suite.flow user has it: the import line changed."""
    return source.replace("from flow import", "from suite.flow import")


def group_rows(root, n, results):
    """A 2-operation group over ``n`` jobs: each tool's run, and suite's one by one."""
    rows = {}
    for tool in ("signac-flow", "suite.flow project.py", "suite workflow.py",
                 "suite, the 2 operations one by one"):
        p = build(os.path.join(root, f"group-{len(rows)}"), n)
        if tool.startswith("signac-flow") or tool.startswith("suite.flow"):
            source = GROUP_PROJECT if tool == "signac-flow" else suite_flow(GROUP_PROJECT)
            with open(p.fn("project.py"), "w") as f:
                f.write(source)
            rows[tool] = wall([sys.executable, "project.py", "run", "-o", "both"], p.path)
        else:
            with open(p.fn("workflow.py"), "w") as f:
                f.write(GROUP_WORKFLOW)
            if tool == "suite workflow.py":
                rows[tool] = wall(["suite", "run", "-o", "both"], p.path)
            else:
                rows[tool] = wall(["suite", "run", "-o", "first"], p.path) + wall(
                    ["suite", "run", "-o", "second"], p.path)
        done = sum(1 for j in p.find_jobs() if j.doc().get("done"))
        if done != n:
            raise RuntimeError(f"{tool}: the group completed on {done} of {n} jobs")
    results[f"group of 2 operations over {n:,} jobs"] = rows


def project_status_rows(root, n, results):
    """``python project.py status`` (suite.flow) beside ``suite status``, same workflow."""
    p = build(os.path.join(root, "project-status"), n)
    with open(p.fn("project.py"), "w") as f:
        f.write(suite_flow(FLOW_PROJECT))
    wall([sys.executable, "project.py", "status"], p.path)  # the first call builds the index
    rows = {"python project.py status (suite.flow)":
            min(wall([sys.executable, "project.py", "status"], p.path) for _ in range(2))}
    with open(p.fn("project.py"), "w") as f:
        f.write(FLOW_PROJECT)
    rows["python project.py status (signac-flow)"] = min(
        wall([sys.executable, "project.py", "status"], p.path) for _ in range(2))
    os.remove(p.fn("project.py"))
    with open(p.fn("workflow.py"), "w") as f:
        f.write(SUITE_WORKFLOW)
    rows["suite status (workflow.py)"] = min(wall(["suite", "status"], p.path)
                                             for _ in range(2))
    results[f"status at {n:,} jobs"] = rows


def median_interval(values, level=0.95, draws=10000, seed=17):
    """``(median, low, high)``: the median of ``values`` and a bootstrap interval for it (the
    medians of ``draws`` resamples with replacement, their ``level`` central range; a fixed
    seed, so a rerun on the same numbers prints the same interval)."""
    import random
    import statistics

    rng = random.Random(seed)
    k = len(values)
    meds = sorted(statistics.median(rng.choices(values, k=k)) for _ in range(draws))
    cut = int(draws * (1 - level) / 2)
    return statistics.median(values), meds[cut], meds[draws - 1 - cut]


def records_rows(root, n, repeat, results):
    """``suite run`` of the trivial operation with records on and off, in the same run: each
    round runs both back to back (which goes first alternates), on fresh projects. Beside the
    best of each, the median of the per-round ratios (each round's on / off, taken minutes
    apart at most, so a drift of the machine between rounds hits both sides alike) with a
    bootstrap 95 % interval; every round's numbers go to the JSON."""
    import resource
    import statistics

    off, on = "records off (SUITE_RECORDS=off)", "records on"
    rows = {off: float("inf"), on: float("inf")}
    cpu = {row: float("inf") for row in rows}
    rounds = {row: [] for row in rows}  # (wall, cpu) of each round: the spread
    load = os.getloadavg()[0]
    for round_ in range(repeat):
        order = list(rows) if round_ % 2 == 0 else list(reversed(rows))
        for row in order:
            p = build(os.path.join(root, f"records-{round_}-{len(row)}"), n)
            with open(p.fn("workflow.py"), "w") as f:
                f.write(SUITE_WORKFLOW)
            env = {**ENV, "SUITE_RECORDS": "off" if "off" in row else "on"}
            os.sync()
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            common.wall(["suite", "run", "-o", "first"], p.path, env=env)
            t = time.perf_counter() - t
            now = resource.getrusage(resource.RUSAGE_CHILDREN)
            user, system = now.ru_utime - used.ru_utime, now.ru_stime - used.ru_stime
            c = user + system
            rows[row] = min(rows[row], t)
            cpu[row] = min(cpu[row], c)
            rounds[row].append((t, c, user, system))
            print(f"round {round_ + 1}: {row} {t:.2f} s (cpu {c:.2f} s: user {user:.2f}, "
                  f"sys {system:.2f})", flush=True)
            shutil.rmtree(p.path, ignore_errors=True)
    rows["load average (1 min) at the start"] = load
    rows["slowdown"] = rows[on] / rows[off] - 1
    rows["load average (1 min) at the end"] = os.getloadavg()[0]
    for row, c in cpu.items():
        rows[f"cpu: {row}"] = c
    rows["cpu slowdown"] = cpu[on] / cpu[off] - 1
    kinds = ("wall", "cpu", "user cpu", "sys cpu")
    for row, got in rounds.items():  # how stable the best is
        for k, what in enumerate(kinds):
            values = sorted(g[k] for g in got)
            rows[f"{what} median / max: {row}"] = \
                f"{values[len(values) // 2]:.3f} / {values[-1]:.3f}"
    for k, what in enumerate(kinds[2:], 2):  # the kernel's part apart from user space
        extra = [b[k] - a[k] for a, b in zip(rounds[off], rounds[on], strict=True)]
        rows[f"{what} on - off per round, median (us a job)"] = \
            statistics.median(extra) / n * 1e6
    for k, what in enumerate(kinds):  # the rounds as pairs
        ratios = [b[k] / a[k] - 1 for a, b in zip(rounds[off], rounds[on], strict=True)]
        mid, low, high = median_interval(ratios)
        rows[f"{what} slowdown per round (on / off), median"] = mid
        rows[f"{what} slowdown per round, 95 % interval (bootstrap)"] = \
            f"{low:+.1%} .. {high:+.1%}"
    rows["rounds"] = [{"round": i + 1, "first": "off" if i % 2 == 0 else "on",
                       "off wall s": a[0], "off cpu s": a[1], "off user s": a[2],
                       "off sys s": a[3], "on wall s": b[0], "on cpu s": b[1],
                       "on user s": b[2], "on sys s": b[3]}
                      for i, (a, b) in enumerate(zip(rounds[off], rounds[on], strict=True))]
    results[f"run trivial op over {n:,} jobs, provenance records"] = rows


def records_paired(root, n, repeat, results):
    """``suite run`` with records off and on started at the same moment, each round: both see
    the same load (on a busy machine whole rounds of one side spread by ±25 %). CPU of each
    (user + system, with what it waited for: the shim, git) from ``wait4``; the ratio per
    round, its median and range, and the ratio of the best."""
    import statistics

    got = {"off": [], "on": []}
    for round_ in range(repeat):
        modes = ["off", "on"] if round_ % 2 == 0 else ["on", "off"]
        paths = {}
        for mode in modes:
            p = build(os.path.join(root, f"records-paired-{mode}"), n)
            with open(p.fn("workflow.py"), "w") as f:
                f.write(SUITE_WORKFLOW)
            paths[mode] = p.path
        os.sync()
        procs = {mode: subprocess.Popen(["suite", "run", "-o", "first"], cwd=paths[mode],
                                        env={**ENV, "SUITE_RECORDS": mode},
                                        stdout=subprocess.DEVNULL)
                 for mode in modes}
        for mode, proc in procs.items():
            _, status, use = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                raise RuntimeError(f"suite run (records {mode}): exit {proc.returncode}")
            got[mode].append(use.ru_utime + use.ru_stime)
        print(f"paired round {round_ + 1}: cpu off {got['off'][-1]:.2f} s, on "
              f"{got['on'][-1]:.2f} s ({got['on'][-1] / got['off'][-1] - 1:+.1%})", flush=True)
        for path in paths.values():
            shutil.rmtree(path, ignore_errors=True)
    ratios = sorted(on / off - 1 for off, on in zip(got["off"], got["on"], strict=True))
    results[f"run trivial op over {n:,} jobs, records off and on started together"] = {
        "cpu off, best": min(got["off"]), "cpu on, best": min(got["on"]),
        "cpu slowdown of the best": min(got["on"]) / min(got["off"]) - 1,
        "cpu slowdown per round, median": statistics.median(ratios),
        "cpu slowdown per round, min": ratios[0], "cpu slowdown per round, max": ratios[-1],
        "load average (1 min) at the end": os.getloadavg()[0]}


def records_interleaved(root, n, results):
    """Per execution, records on vs off taking turns job by job in one process (the machine's
    drift, which swings whole runs by 2x here, then hits both alike): seconds summed per mode,
    and the one-off capture (git, environment) timed apart."""
    from suite.flow import Runner, load_workflow

    p = build(os.path.join(root, "records-interleaved"), n)
    with open(p.fn("workflow.py"), "w") as f:
        f.write(SUITE_WORKFLOW)
    runner = Runner(load_workflow(p), p)
    op = runner.operation("first")
    t = time.perf_counter()
    runner.capture.base()
    once = time.perf_counter() - t
    spent = {"off": 0.0, "on": 0.0}
    cpu = {"off": [], "on": []}  # CPU time of each execution: preemption on a busy machine
    with runner.log.background():  # moves the wall clock, not this
        for i, job in enumerate(p):
            mode = "on" if i % 2 == 0 else "off"
            runner.capture.enabled = mode == "on"
            c, t = time.process_time(), time.perf_counter()
            runner.execute(op, (job,))
            spent[mode] += time.perf_counter() - t
            cpu[mode].append(time.process_time() - c)
    per = {m: v / ((n + 1) // 2 if m == "on" else n // 2) for m, v in spent.items()}
    med = {m: sorted(v)[len(v) // 2] for m, v in cpu.items()}
    results[f"records on vs off per execution, interleaved, {n:,} jobs"] = {
        "off, us per execution": per["off"] * 1e6, "on, us per execution": per["on"] * 1e6,
        "extra per execution, us": (per["on"] - per["off"]) * 1e6,
        "off, cpu us per execution (median)": med["off"] * 1e6,
        "on, cpu us per execution (median)": med["on"] * 1e6,
        "cpu slowdown per execution": med["on"] / med["off"] - 1,
        "once per run (git, environment), s": once,
        "load average (1 min)": os.getloadavg()[0]}



def records_parts(root, n, results):
    """Where the records' cost goes: the same executions in chunks of 50 that take turns
    between records off, only the scan before, only the scan after (with the hashes), both
    scans, and full records (scans, record fields, blob lines): CPU µs per execution, the
    first quartile of the chunks (a busy machine lifts the upper ones)."""
    from suite.flow import Runner, load_workflow

    p = build(os.path.join(root, "records-parts"), n)
    with open(p.fn("workflow.py"), "w") as f:
        f.write(SUITE_WORKFLOW)
    runner = Runner(load_workflow(p), p)
    op, cap = runner.operation("first"), runner.capture
    cap.base()
    variants = {"off": (), "scan before only": ("before",), "scan after only": ("after",),
                "both scans": ("before", "after"), "full records": ("before", "after", "line")}
    now = [()]
    scan, changes, line, blobs = cap.scan, cap.changes_text, cap.line, cap.blobs

    def gated(on, call):
        def run(*args, **kw):
            cap.enabled = on()
            return call(*args, **kw)
        return run

    cap.scan = gated(lambda: "before" in now[0], scan)
    # the scan after alone compares with an empty scan before (every file is new); without
    # it there is nothing to compare
    cap.changes_text = gated(lambda: "after" in now[0], lambda jobs, before: changes(
        jobs, {} if before is None else before) if "after" in now[0] else None)
    cap.line = gated(lambda: "line" in now[0], line)
    cap.blobs = gated(lambda: "line" in now[0], blobs)
    record_line = cap.record_line

    def parted_record_line(name, jobs, start, end, status, error, before):
        # the runner's one call for the scan after and the line (session 13) runs whole only
        # for full records; the other variants take the two parts it joins, each gated
        if "after" in now[0] and "line" in now[0]:
            return record_line(name, jobs, start, end, status, error, before)
        return cap.line(name, [j.id for j in jobs], start, end, status, error, None,
                        cap.changes_text(jobs, before))

    cap.record_line = parted_record_line
    jobs, chunk = list(p), 50
    # the process's CPU and the runner's thread's apart (a thread of suite's own, such as the
    # log's writer or a scan's helper, shows as their difference)
    cpu, thread = {v: [] for v in variants}, {v: [] for v in variants}
    with runner.log.background():
        for k in range(0, n, chunk):
            name = list(variants)[(k // chunk) % len(variants)]
            now[0] = variants[name]
            c, t = time.process_time(), time.thread_time()
            for job in jobs[k:k + chunk]:
                runner.execute(op, (job,))
            cpu[name].append((time.process_time() - c) / chunk)
            thread[name].append((time.thread_time() - t) / chunk)
    q1 = {v: sorted(c)[len(c) // 4] * 1e6 for v, c in cpu.items()}
    t1 = {v: sorted(c)[len(c) // 4] * 1e6 for v, c in thread.items()}
    results[f"records by part, cpu us per execution (first quartile), {n:,} jobs"] = {
        **{f"{v}": q1[v] for v in variants},
        **{f"{v}: extra": q1[v] - q1["off"] for v in list(variants)[1:]},
        **{f"{v}: extra, the runner's thread": t1[v] - t1["off"] for v in list(variants)[1:]},
        "load average (1 min)": os.getloadavg()[0]}


def records_history(root, depth, results, jobs=100, rounds=5):
    """CPU µs per execution with records on for jobs whose logs already hold 1 and ``depth``
    records: each round is a new runner (a new ``suite run``), whose first record of a job
    learns which blobs that job's log holds; the median over ``rounds`` x ``jobs``. With
    :attr:`Log.bytes_read` (where the tree has it), the log bytes read per execution."""
    from suite.flow import Runner, load_workflow

    rows = {}
    for d in sorted({1, depth}):
        p = build(os.path.join(root, f"records-history-{d}"), jobs)
        with open(p.fn("workflow.py"), "w") as f:
            f.write(SUITE_WORKFLOW)
        first = Runner(load_workflow(p), p)
        for job in p:
            first.execute(first.operation("first"), (job,))
        for job in p:  # a history: the job's record again, d - 1 times
            with open(job.fn("suite_flow_log.jsonl"), "rb") as f:
                last = f.read().splitlines(keepends=True)[-1]
            with open(job.fn("suite_flow_log.jsonl"), "ab") as f:
                f.write(last * (d - 1))
        cpu, read = [], 0
        for _ in range(rounds):
            runner = Runner(load_workflow(p), p)
            runner.capture.base()
            op = runner.operation("first")
            for job in p:
                c = time.process_time()
                runner.execute(op, (job,))
                cpu.append(time.process_time() - c)
            read += getattr(runner.log, "bytes_read", 0)
        rows[f"{d:,} records in the log: cpu us per execution (median)"] = \
            sorted(cpu)[len(cpu) // 2] * 1e6
        rows[f"{d:,} records in the log: log bytes read per execution"] = read / len(cpu)
        shutil.rmtree(p.path, ignore_errors=True)
    rows["load average (1 min)"] = os.getloadavg()[0]
    results[f"records on, first record of a job in a run, by log history ({jobs} jobs)"] = rows


def succeeded_rows(root, n, depth, trees, repeat, results):
    """`suite status` over ``n`` jobs whose logs hold 1 and ``depth`` records of an operation
    without postconditions, by each tree in ``trees`` ({name: checkout}), taking turns: the
    first call after the logs were written (cold: every log read) and the best of ``repeat``
    later calls (warm), wall and CPU seconds of the process; with the last-execution column
    (the default up to 20,000 jobs) and without it (``--no-last``)."""
    from suite.flow import Runner, load_workflow

    workflow = SUITE_WORKFLOW + "\n\n@Bench.operation\ndef tally(job):\n    pass\n"
    rows = {}
    for d in sorted({1, depth}):
        p = build(os.path.join(root, f"succeeded-{d}"), n)
        with open(p.fn("workflow.py"), "w") as f:
            f.write(workflow)
        jobs = list(p)
        r = Runner(load_workflow(p), p)
        r.execute(r.operation("tally"), (jobs[0],))
        with open(jobs[0].fn("suite_flow_log.jsonl"), "rb") as f:
            lines = f.read().splitlines(keepends=True)
        blobs, record = b"".join(lines[:-1]), lines[-1]  # the environment's blob, the record
        data = blobs + record * d
        for job in jobs:
            with open(job.fn("suite_flow_log.jsonl"), "wb") as f:
                f.write(data)
        cache = p.fn(os.path.join(".suite", "flow", "succeeded.sqlite"))
        times = {}
        first = True
        for round_ in range(repeat + 1):  # round 0 cold (no cache), then warm; trees alternate
            for (name, tree), extra in itertools.product(trees.items(), ([], ["--no-last"])):
                args = [sys.executable, "-m", "suite", "status", *extra]
                env = {**(ENV or os.environ), "PYTHONPATH": tree}
                if first:  # the index, and logs in the page cache
                    subprocess.run(args, cwd=p.path, env=env, capture_output=True)
                    first = False
                # each tree keeps its own cache: trees of other cache versions rebuild it
                mine = f"{cache}.{name}"
                if round_ == 0 or not os.path.exists(mine):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(mine)
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(cache)
                else:
                    os.replace(mine, cache)
                os.sync()
                c, t = common.cpu_seconds(), time.perf_counter()
                out = subprocess.run(args, cwd=p.path, env=env, capture_output=True, text=True)
                t, c = time.perf_counter() - t, common.cpu_seconds() - c
                if os.path.exists(cache):
                    os.replace(cache, mine)
                if out.returncode or "tally" not in out.stdout:
                    raise RuntimeError(f"suite status: {out.stderr[-2000:]}")
                key = ("cold" if round_ == 0 else "warm") + (", --no-last" if extra else "")
                old = times.get((name, key))
                if old is None or t < old[0]:
                    times[(name, key)] = (t, c)
        mb = len(data) * n / 1e6
        for (name, key), (t, c) in times.items():
            rows[f"{d} records ({mb:.0f} MB of logs), {name}, {key}: wall s"] = t
            rows[f"{d} records ({mb:.0f} MB of logs), {name}, {key}: cpu s"] = c
        shutil.rmtree(p.path, ignore_errors=True)
    rows["load average (1 min)"] = os.getloadavg()[0]
    results[f"status, an operation without postconditions, by log history ({n:,} jobs)"] = rows


JOB_STATUS_PROJECT = """
from suite.flow import FlowProject


class P(FlowProject):
    pass


@P.operation
def tally(job):
    pass


@P.pre.succeeded(tally)
@P.operation
def after(job):
    pass
"""

JOB_STATUS_LOOP = """
import sys, time
sys.path.insert(0, ".")
import project
if len(sys.argv) > 1:
    import suite.flow.project as fp
    fp.SAVE_EVERY = int(sys.argv[1])
p = project.P.get_project(".")
jobs = list(p)
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 2):
    t, c = time.perf_counter(), time.process_time()
    n = sum(p.get_job_status(j)["operations"]["after"]["eligible"] for j in jobs)
    print(time.perf_counter() - t, time.process_time() - c, n)
"""


def job_status_rows(root, n, depth, trees, repeat, results):
    """``FlowProject.get_job_status`` per job over ``n`` jobs whose logs hold ``depth``
    records, by each tree in ``trees``, taking turns: the first loop of a process without a
    cache, the same loop again in it, and the first loop of the next process; best of
    ``repeat`` rounds, wall and CPU seconds."""
    from suite.flow import Runner, load_workflow

    p = build(os.path.join(root, "job-status"), n)
    with open(p.fn("workflow.py"), "w") as f:
        f.write(SUITE_WORKFLOW + "\n\n@Bench.operation\ndef tally(job):\n    pass\n")
    jobs = list(p)
    r = Runner(load_workflow(p), p)
    r.execute(r.operation("tally"), (jobs[0],))
    with open(jobs[0].fn("suite_flow_log.jsonl"), "rb") as f:
        lines = f.read().splitlines(keepends=True)
    data = b"".join(lines[:-1]) + lines[-1] * depth
    for job in jobs:
        with open(job.fn("suite_flow_log.jsonl"), "wb") as f:
            f.write(data)
    os.remove(p.fn("workflow.py"))
    with open(p.fn("project.py"), "w") as f:
        f.write(JOB_STATUS_PROJECT)
    with open(p.fn("loop.py"), "w") as f:
        f.write(JOB_STATUS_LOOP)
    cache = p.fn(os.path.join(".suite", "flow", "succeeded.sqlite"))
    variants = [(name, tree, []) for name, tree in trees.items()]
    variants += [(f"{name}, SAVE_EVERY=1", tree, ["1"]) for name, tree in trees.items()
                 if os.path.exists(os.path.join(tree, "suite", "flow", "succeeded.py"))
                 and "SAVE_EVERY" in open(os.path.join(tree, "suite", "flow",
                                                       "project.py")).read()]
    times = {}
    for _ in range(repeat):
        for name, tree, extra in variants:
            env = {**(ENV or os.environ), "PYTHONPATH": tree}
            with contextlib.suppress(FileNotFoundError):
                os.remove(cache)
            os.sync()
            out = []
            for k in range(2):  # a process without a cache, then the next one
                done = subprocess.run([sys.executable, "loop.py", *extra], cwd=p.path, env=env, capture_output=True,
                                      text=True)
                if done.returncode:
                    raise RuntimeError(f"get_job_status loop: {done.stderr[-2000:]}")
                rows = [ln.split() for ln in done.stdout.splitlines()]
                if any(int(r[2]) != n for r in rows):
                    raise RuntimeError(f"get_job_status loop: {done.stdout}")
                out += rows[:2] if k == 0 else rows[:1]
            for key, (t, c, _) in zip(("first loop", "same loop again",
                                       "next process's first loop"), out, strict=True):
                old = times.get((name, key))
                if old is None or float(t) < old[0]:
                    times[(name, key)] = (float(t), float(c))
    rows = {}
    for (name, key), (t, c) in times.items():
        rows[f"{name}, {key}: wall s"] = t
        rows[f"{name}, {key}: cpu s"] = c
    rows["load average (1 min)"] = os.getloadavg()[0]
    mb = len(data) * n / 1e6
    results[f"FlowProject.get_job_status per job, {n:,} jobs, {depth} records each "
            f"({mb:.0f} MB of logs)"] = rows
    shutil.rmtree(p.path, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--status-n", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="rounds; the best of each counts")
    ap.add_argument("--json", default="bench/results-flow.json")
    ap.add_argument("--group-n", type=int, default=0)
    ap.add_argument("--project-status-n", type=int, default=0)
    ap.add_argument("--records-n", type=int, default=0)
    ap.add_argument("--records-rounds", type=int, default=8,
                    help="rounds of the --records-n whole runs (records off and on back to "
                         "back in each)")
    ap.add_argument("--history-n", type=int, default=0,
                    help="records already in each job's log for the history rows")
    ap.add_argument("--succeeded-n", type=int, default=0,
                    help="jobs of the status rows by log history (with --history-n)")
    ap.add_argument("--job-status-n", type=int, default=0,
                    help="jobs of the FlowProject.get_job_status rows (with --history-n)")
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                    help="a checkout to time (--succeeded-n rows; repeatable)")
    ap.add_argument("--records-whole-run", action="store_true",
                    help="with --records-n: only the whole `suite run` rows (not the "
                         "per-execution ones before them)")
    ap.add_argument("--records-paired", action="store_true",
                    help="with --records-n: also rounds that start records off and on "
                         "together (the same load for both)")
    ap.add_argument("--only-extra", action="store_true",
                    help="only the --group-n, --project-status-n, --records-n and "
                    "--history-n rows")
    args = ap.parse_args()
    global ENV
    if (args.group_n or args.project_status_n or args.records_n or args.history_n
            or args.succeeded_n or args.job_status_n):
        extra = {}
        root = tempfile.mkdtemp(prefix="bench-flow-")
        global ENV
        ENV = {**os.environ, "PATH": common.path_without(root, SCHEDULER_COMMANDS)}
        try:
            if args.group_n:
                group_rows(root, args.group_n, extra)
            if args.project_status_n:
                project_status_rows(root, args.project_status_n, extra)
            if args.records_n:
                if not args.records_whole_run:
                    records_interleaved(root, args.records_n, extra)
                    records_parts(root, args.records_n, extra)
                records_rows(root, args.records_n, args.records_rounds, extra)
                if args.records_paired:
                    records_paired(root, args.records_n, args.repeat, extra)
            if args.history_n and not (args.succeeded_n or args.job_status_n):
                records_history(root, args.history_n, extra)
            if args.succeeded_n:
                here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
                trees = dict(t.split("=", 1) for t in args.tree) or {"this": here}
                succeeded_rows(root, args.succeeded_n, args.history_n or 200, trees,
                               args.repeat, extra)
            if args.job_status_n:
                here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
                trees = dict(t.split("=", 1) for t in args.tree) or {"this": here}
                job_status_rows(root, args.job_status_n, args.history_n or 200, trees,
                                args.repeat, extra)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        for title, rows in extra.items():
            print(title)
            for row, t in rows.items():
                if isinstance(t, list):  # each round's numbers: the JSON holds them
                    continue
                print(f"  {row:40s} {t if isinstance(t, str) else f'{t:8.2f}'}")
        if args.only_extra:
            with open(args.json, "w") as f:
                json.dump(extra, f, indent=2)
            return
    results = {}
    rounds = {"floor": []}  # the run row of every round, and the floor beside it
    root = tempfile.mkdtemp(prefix="bench-flow-")
    ENV = {**os.environ, "PATH": common.path_without(root, SCHEDULER_COMMANDS)}
    try:
        # both projects are built first; then the tools take turns row by row, over
        # --repeat rounds on fresh copies (the disk's speed drifts), the best of each counts
        for round_ in range(args.repeat):
            commands = {}
            floor_project = build(os.path.join(root, f"floor{round_}"), args.n)
            for tool in ("suite", "signac-flow"):
                p = build(os.path.join(root, f"{tool}{round_}"), args.n)
                if tool == "suite":
                    with open(p.fn("workflow.py"), "w") as f:
                        f.write(SUITE_WORKFLOW)
                    commands[tool] = (p.path, ["suite", "status"],
                                      ["suite", "run", "-o", "first"])
                else:
                    with open(p.fn("project.py"), "w") as f:
                        f.write(FLOW_PROJECT)
                    commands[tool] = (p.path, [sys.executable, "project.py", "status"],
                                      [sys.executable, "project.py", "run", "-o", "first"])
            rows = ("status", "run trivial op over all jobs", "run again, nothing eligible")
            for k, row in enumerate(rows):
                tools = ("suite", "signac-flow") if (k + round_) % 2 == 0 else \
                    ("signac-flow", "suite")
                for tool in tools:
                    path, status, run = commands[tool]
                    t = wall(status if row == "status" else run, path)
                    old = results.setdefault(tool, {}).get(row, float("inf"))
                    results[tool][row] = min(old, t)
                    if k == 1:
                        rounds.setdefault(tool, []).append(t)
                if k == 1:
                    os.sync()
                    rounds["floor"].append(write_floor(floor_project.workspace))
                    print(f"round {round_ + 1}: run signac-flow {rounds['signac-flow'][-1]:.2f} s,"
                          f" suite {rounds['suite'][-1]:.2f} s, floor {rounds['floor'][-1]:.2f} s",
                          flush=True)
        results["floor"] = min(rounds["floor"])
        results["run rounds"] = rounds
        if args.status_n:
            p = build(os.path.join(root, "big"), args.status_n)
            with open(p.fn("workflow.py"), "w") as f:
                f.write(SUITE_WORKFLOW)
            wall(["suite", "status"], p.path)  # the first call builds the index
            results["suite"][f"status at {args.status_n:,} jobs"] = wall(["suite", "status"],
                                                                       p.path)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nN = {args.n:,} jobs, 3 operations, 2 labels")
    print(f"{'operation':34s} {'signac-flow s':>14s} {'suite s':>9s} {'ratio':>7s}")
    print("(best of each; the floor is the lowest of its rounds)")
    for key, t in results["suite"].items():
        other = results["signac-flow"].get(key)
        print(f"{key:34s} {other if other else float('nan'):14.3f} {t:9.3f} "
              f"{(other / t) if other else float('nan'):7.1f}")
    print(f"{'floor: the run row by plain syscalls':34s} "
          f"{'':14s} {results['floor']:9.3f}")
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
