"""The one-operation workflow the submission-book tests submit: `simulate` writes out.txt."""

import textwrap

WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class Sweep(Workflow):
        pass

    @Sweep.post.isfile("out.txt")
    @Sweep.operation(cmd=True)
    def simulate(job):
        return "echo done > out.txt"
''')
