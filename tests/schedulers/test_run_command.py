"""schedulers.base.run_command: what the schedulers' queries and cancels run through."""

import pytest

from schedulers.base import SchedulerError, run_command

FAILS = ["sh", "-c", "echo '123|RUNNING'; echo 'qstat: Unknown Job Id 77.host' >&2; exit 153"]


def test_output_of_a_command_that_succeeds():
    assert run_command(["sh", "-c", "echo a; echo b"]) == "a\nb\n"


def test_a_failure_names_the_command_and_its_message():
    with pytest.raises(SchedulerError, match=r"sh -c failed: qstat: Unknown Job Id 77\.host"):
        run_command(FAILS)


def test_a_tolerated_failure_still_returns_what_was_printed():
    # a purged job id among several: the others' states still count
    assert run_command(FAILS, "Unknown Job Id") == "123|RUNNING\n"


def test_another_failure_is_not_tolerated():
    with pytest.raises(SchedulerError, match="Unknown Job Id"):
        run_command(FAILS, "is not found")


def test_a_missing_program_is_a_scheduler_error(tmp_path):
    with pytest.raises(SchedulerError, match="failed"):
        run_command([str(tmp_path / "no-such-qstat")])
