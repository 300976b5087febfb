"""Operation and label names come from users (and records from synced logs): printed to a
terminal, a newline, tab or escape code in one must show as an escape (``\\n``, ``\\x1b``),
never forge a line of the table or move the cursor."""

import subprocess
import textwrap

import pytest

WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class W(Workflow):
        pass

    @W.label("lab\\x1b[2Jel")
    def a_label(job):
        return "shown\\x9b31m\\u2028label"

    @W.operation(name="forged\\nfake  9  9  9  9")
    def forged(job):
        pass

    @W.operation(name="bad\\r\\top\\x07")
    def bad(job):
        raise RuntimeError("fails")
''')
RAW = ("\x1b", "\x9b", "\x07", "\r", "\t", "\u2028")


@pytest.fixture
def proj(project):
    project.open_job({"a": 0}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    return project


def suite(proj, *args):
    out = subprocess.run(["suite", *args], cwd=proj.path, capture_output=True)
    # bytes decoded as they are: text mode would turn a carriage return into a newline
    out.stdout, out.stderr = out.stdout.decode(), out.stderr.decode()
    return out


def clean(text):
    assert not any(c in text for c in RAW), repr(text)
    assert not any(ln.startswith("fake") for ln in text.split("\n"))  # no forged line
    return text


def test_status_text_shows_control_characters_escaped(proj):
    out = suite(proj, "status", "--detailed", "--last")
    assert out.returncode == 0, out.stderr
    lines = clean(out.stdout).rstrip("\n").split("\n")
    assert any(ln.startswith("forged\\nfake  9  9  9  9 ") for ln in lines)
    assert any("bad\\r\\top\\x07" in ln for ln in lines)
    assert any("shown\\x9b31m\\u2028label" in ln for ln in lines)
    job_line = lines[-1]
    assert "eligible: forged\\nfake  9  9  9  9, bad\\r\\top\\x07" in job_line
    # the other formats keep their own escaping; JSON keeps the names as they are
    assert "forged\\nfake" in suite(proj, "status", "--json").stdout


def test_run_and_exec_print_names_escaped(proj):
    out = suite(proj, "run", "--pretend")
    assert out.returncode == 0, out.stderr
    assert "forged\\nfake  9  9  9  9(" in clean(out.stdout)
    out = suite(proj, "run", "--progress")
    assert out.returncode == 1
    assert "failed: bad\\r\\top\\x07 on " in clean(out.stderr)
    assert "operation bad\\r\\top\\x07 failed on job " in out.stderr
    clean(out.stdout)
    out = suite(proj, "status", "--last")  # the last-execution lines, from the log
    assert "bad\\r\\top\\x07" in clean(out.stdout)
    assert "failure" in out.stdout
    out = suite(proj, "exec", "bad\r\top\x07")
    assert out.returncode == 1
    assert "ran bad\\r\\top\\x07 on 1 job(s); 1 failed" in clean(out.stdout)


def test_visible_keeps_printable_text():
    from suite.terminal import visible

    assert visible("énergie\\path 1→2 名前") == "énergie\\path 1→2 名前"
    assert visible("a\x00b\x7fc\x85d\u202ee") == "a\\x00b\\x7fc\\x85d\\u202ee"


def test_flow_project_print_status_escapes_names(proj, tmp_path):
    import importlib.util
    import io

    path = tmp_path / "fp_text.py"
    path.write_text(textwrap.dedent('''
        from suite.flow import FlowProject

        class P(FlowProject):
            pass

        @P.label
        def tagged(job):
            return "x\\x1b]0;title\\x07"

        @P.operation(name="op\\nfake")
        def op(job):
            pass
    '''))
    spec = importlib.util.spec_from_file_location("fp_text", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = io.StringIO()
    mod.P.get_project(proj.path).print_status(file=out, detailed=True, parameters=["a"])
    text = clean(out.getvalue())
    assert "op\\nfake" in text and "tagged=x\\x1b]0;title\\x07" in text


def test_project_py_run_prints_a_failing_name_escaped(proj):
    with open(proj.fn("project.py"), "w") as f:
        f.write(textwrap.dedent('''
            from suite.flow import FlowProject

            class P(FlowProject):
                pass

            @P.operation(name="bad\\x1b[2Jop")
            def bad(job):
                raise RuntimeError("fails")

            if __name__ == "__main__":
                P().main()
        '''))
    import sys

    out = subprocess.run([sys.executable, "project.py", "run"], cwd=proj.path,
                         capture_output=True)
    err = out.stderr.decode()
    assert out.returncode == 1
    assert "error: operation bad\\x1b[2Jop failed on " in clean(err)
    assert "operation bad\\x1b[2Jop failed on job " in err


def test_status_everywhere_text_escapes_far_names():
    # the far side's operation names and errors are printed here: a far project's names (or a
    # far side that lies) must not forge this table's lines either
    from suite.remote import format_everywhere

    table = {"here": {"status": {"operations": {"op\nfake  1": {"eligible": 1}}}},
             "far\x1b[2J": {"error": "lost\x1b]0;t\x07", "unreachable": True}}
    text = clean(format_everywhere(table, "text"))
    assert "op\\nfake  1" in text and "far\\x1b[2J: unreachable: lost\\x1b]0;t\\x07" in text
