"""The workflow step of ``suite demo``."""

import os

WORKFLOW = '''from suite.flow import Workflow


class Demo(Workflow):
    pass


@Demo.post.isfile("energy.txt")
@Demo.operation(cmd=True)
def compute(job):
    return f"echo {-job.sp.T * job.sp.p} > energy.txt"


@Demo.pre.after(compute)
@Demo.post.true("checked")
@Demo.operation
def check(job):
    job.doc.checked = True
'''


def demo_step(project, echo):
    """Write a two-operation workflow.py, show status, run it, show status again."""
    from . import Runner, load_workflow

    with open(os.path.join(project.path, "workflow.py"), "w") as f:
        f.write(WORKFLOW)
    runner = Runner(load_workflow(project), project)
    echo("suite status:")
    echo(runner.status().format())
    done = runner.run(num_passes=2, echo=echo)
    echo(f"suite run --num-passes 2 -> {len(done)} operations")
    echo(runner.status().format())
