"""Side-by-side runs of one project.py under signac-flow 0.29.1 and under suite.flow.

``make_twins`` writes two copies of a project (the same jobs, made by ``signac`` and by
``suite``) with the same project.py, the suite copy with exactly two lines changed:
``from flow import`` -> ``from suite.flow import`` and ``import signac`` -> ``import suite as
signac``. ``snapshot`` reads back what a run left: state points, documents, HDF5 data and
files of every job, and the operations that ran (each writes a line to ``ran.txt``).
"""

import json
import os
import subprocess
import sys
import textwrap

#: scheduler commands the test machine has (SLURM for the tests): signac-flow would detect
#: them and query a scheduler; both tools run as on a workstation
SCHEDULER_COMMANDS = {"sbatch", "squeue", "scancel", "scontrol", "sinfo", "srun", "salloc",
                      "sacct", "sacctmgr", "qsub", "qstat", "qdel", "qconf", "bsub", "bjobs",
                      "bkill"}

#: the header every test project.py starts with: a helper recording what ran
HEADER = textwrap.dedent('''\
    import os
    import signac
    from flow import FlowProject, aggregator, IgnoreConditions, get_aggregate_id

    HERE = os.path.dirname(os.path.abspath(__file__))


    def ran(name, *jobs):
        with open(os.path.join(HERE, "ran.txt"), "a") as f:
            f.write(name + " " + ",".join(sorted(j.id for j in jobs)) + "\\n")
    ''')

FOOTER = '\n\nif __name__ == "__main__":\n    Project().main()\n'


def to_suite(source):
    """The two lines a signac-flow user changes (and ``from flow.hooks`` where used)."""
    out = source.replace("from flow import", "from suite.flow import")
    out = out.replace("from flow.", "from suite.flow.")  # from flow.hooks import ...
    return out.replace("import signac\n", "import suite as signac\n")


def path_without(root, names):
    hidden = os.path.join(root, "path-without")
    os.makedirs(hidden, exist_ok=True)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for name in entries:
            link = os.path.join(hidden, name)
            if name not in names and not os.path.lexists(link):
                os.symlink(os.path.join(d, name), link)
    return hidden


def make_twins(root, body, statepoints):
    """Two project directories, ``root/flow`` and ``root/suite``; returns them."""
    dirs, inits = {}, []
    for tool in ("flow", "suite"):
        d = os.path.join(root, tool)
        os.makedirs(d)
        source = HEADER + textwrap.dedent(body) + FOOTER
        with open(os.path.join(d, "project.py"), "w") as f:
            f.write(source if tool == "flow" else to_suite(source))
        init = ("import signac\n" if tool == "flow" else "import suite as signac\n") + \
            f"p = signac.init_project()\nfor sp in {statepoints!r}:\n    p.open_job(sp).init()\n"
        inits.append(([sys.executable, "-c", init], d))
        dirs[tool] = d
    for out in at_once(inits):
        out.check_returncode()
    return dirs


def env(root):
    return {**os.environ, "PATH": path_without(str(root), SCHEDULER_COMMANDS)}


def project_py(d, *args, root=None, check=True):
    """``python project.py ARGS`` in ``d``; returns the CompletedProcess."""
    out = subprocess.run([sys.executable, "project.py", *args], cwd=d, capture_output=True,
                         text=True, env=env(root or os.path.dirname(d)), timeout=300)
    if check and out.returncode != 0:
        raise AssertionError(f"project.py {' '.join(args)} in {d} failed:\n{out.stderr}")
    return out


def both(dirs, *args, check=True):
    """:func:`project_py` in each of ``dirs``, at once: two projects of their own, sharing
    no file, so on two cores the pair takes the time of the slower (one after the other,
    the twins' runs were a minute of CI)."""
    outs = at_once([([sys.executable, "project.py", *args], d) for d in dirs.values()])
    for d, out in zip(dirs.values(), outs, strict=True):
        if check and out.returncode != 0:
            raise AssertionError(f"project.py {' '.join(args)} in {d} failed:\n{out.stderr}")
    return dict(zip(dirs, outs, strict=True))


def at_once(commands):
    """Run each ``(argv, directory)`` at the same time (with :func:`env` of the directory's
    parent); the CompletedProcesses, in order. Those still running are killed if one hangs."""
    procs = []
    try:
        for argv, d in commands:
            procs.append(subprocess.Popen(argv, cwd=d, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True,
                                          env=env(os.path.dirname(d))))
        outs = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=300)
            outs.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
        return outs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


#: files a tool keeps for itself, not results
OWN_FILES = {"suite_flow_log.jsonl", "signac_job_document.json", "signac_statepoint.json",
             "signac_data.h5"}


def snapshot(d):
    """What a run left in project ``d``: per job id its state point, document, HDF5 data and
    other files; the sorted lines of ran.txt; the project document."""
    import h5py

    jobs = {}
    ws = os.path.join(d, "workspace")
    for job_id in sorted(os.listdir(ws)):
        jd = os.path.join(ws, job_id)
        entry = {"sp": _json(os.path.join(jd, "signac_statepoint.json")),
                 "doc": _json(os.path.join(jd, "signac_job_document.json")), "files": {},
                 "data": {}}
        for name in sorted(os.listdir(jd)):
            if name not in OWN_FILES and os.path.isfile(os.path.join(jd, name)):
                with open(os.path.join(jd, name)) as f:
                    entry["files"][name] = f.read()
        h5 = os.path.join(jd, "signac_data.h5")
        if os.path.exists(h5):
            with h5py.File(h5, "r") as f:
                f.visititems(lambda k, v, e=entry: e["data"].__setitem__(k, v[()].tolist())
                             if isinstance(v, h5py.Dataset) else None)
        jobs[job_id] = entry
    try:
        with open(os.path.join(d, "ran.txt")) as f:
            ran = sorted(f.read().splitlines())
    except FileNotFoundError:
        ran = []
    return {"jobs": jobs, "ran": ran,
            "project_doc": _json(os.path.join(d, "signac_project_document.json"))}


def _json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def job_status_script(d):
    """Every job's get_job_status (eligible, completed per operation) and labels, as JSON."""
    code = textwrap.dedent('''
        import json, project
        p = project.Project.get_project()
        out = {}
        for job in p:
            s = p.get_job_status(job)
            out[job.id] = {"ops": {n: [v["eligible"], v["completed"]]
                                   for n, v in s["operations"].items()},
                           "labels": sorted(s["labels"]), "labels_fn": sorted(p.labels(job)),
                           "completed": sorted(p.completed_operations(job))}
        print(json.dumps(out, sort_keys=True))
    ''')
    out = subprocess.run([sys.executable, "-c", code], cwd=d, capture_output=True, text=True,
                         env=env(os.path.dirname(d)), timeout=300)
    if out.returncode != 0:
        raise AssertionError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])
