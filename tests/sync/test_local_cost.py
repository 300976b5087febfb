"""What a local sync (both projects on this machine, `suite sync /other/project`) costs:
the work it leaves out must not change what it syncs."""

import os
import subprocess
import sys

import suite
import sync


def make(project, n):
    for i in range(n):
        job = project.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"result {i}")


def test_local_sync_cli_imports_no_workflow_package(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    make(lap, 3)
    # the CLI as a user runs it, in a fresh process: the sync identity is read without the
    # workflow package (nothing was submitted, so no book is exchanged either)
    code = ("import sys; from suite.cli import main; "
            f"sys.argv = ['suite', 'sync', {str(clu.path)!r}, '-q']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "assert 'suite.flow' not in sys.modules, 'suite.flow imported'\n"
            "assert 'schedulers' not in sys.modules, 'schedulers imported'\n"
            # nor a TOML reader without a config file, nor a thread pool (with logging)
            "assert 'tomllib' not in sys.modules, 'tomllib imported'\n"
            "assert 'concurrent.futures' not in sys.modules, 'concurrent.futures imported'\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "no-config")}
    subprocess.run([sys.executable, "-c", code], cwd=lap.path, check=True, env=env)
    assert sorted(j.id for j in clu) == sorted(j.id for j in lap)
    assert os.path.exists(clu.open_job({"i": 2}).fn("out.txt"))
    assert sync.sync(lap, clu.path).exit_status == 0  # and the record agrees: nothing to do
