"""The one process runner (mysqlbuild/proc.py), with real processes: results, failures, a missing
program, a command that does not answer, and Ctrl-C."""
from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import pytest

from mysqlbuild import proc
from mysqlbuild.errors import CommandError, Interrupted, ProgramMissing
from mysqlbuild.progress import Reporter


@pytest.fixture
def ctrl_c():
    """Ctrl-C raises KeyboardInterrupt here, as in a terminal.  A process started in the background by a
    non-interactive shell (`cmd &`, as a CI runner may start the suite) inherits SIGINT as ignored, and
    Python then installs no handler: the tests of Ctrl-C would wait for nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_quiet_command_gives_its_output():
    result = proc.run(["sh", "-c", "echo out; echo err >&2"])
    assert (result.returncode, result.stdout, result.stderr, result.output) == (0, "out\n", "err\n", "out\nerr")


def test_a_failing_quiet_command_gives_command_exit_code_and_output():
    with pytest.raises(CommandError) as info:
        proc.run(proc.Command(("sh", "-c", "echo first; echo second >&2; exit 3"), (("WHERE", "a b"),)),
                 what="the probe", hint=lambda output: "seen: " + output.split()[-1])
    err = info.value
    assert err.message == "the probe failed" and err.returncode == 3
    assert err.command == "WHERE='a b' sh -c 'echo first; echo second >&2; exit 3'"
    assert err.log_tail.split() == ["first", "second"] and err.hint == "seen: second"
    assert proc.run(["sh", "-c", "exit 3"], check=False).returncode == 3, "unchecked: the result, not an error"


def test_the_command_sees_the_variables_it_adds():
    assert proc.run(proc.Command(("sh", "-c", 'echo "$WHERE"'), (("WHERE", "here"),))).stdout == "here\n"


def test_a_command_that_does_not_answer_is_stopped():
    started = time.monotonic()
    with pytest.raises(CommandError) as info:
        proc.run(["sleep", "30"], what="the wait", timeout=1, check=False)
    assert time.monotonic() - started < 10
    assert info.value.message == "the wait: no answer within 1 s" and info.value.returncode == 124


def test_ctrl_c_during_a_quiet_command_kills_it_and_says_interrupted(ctrl_c):
    started = time.monotonic()
    with pytest.raises(Interrupted):
        proc.run(["sh", "-c", "kill -INT $PPID; sleep 30"])      # the child sends us what Ctrl-C would
    assert time.monotonic() - started < 10


def build(tmp_path: Path, out: io.StringIO | None = None):
    return Reporter(out or io.StringIO()).build("job", tmp_path / "logs" / "job.log", track_percent=False)


def test_a_failing_streamed_command_gives_command_exit_code_tail_and_log(tmp_path):
    stream = build(tmp_path)
    seen = []
    script = "for i in $(seq 1 80); do echo line $i; done; echo oops >&2; exit 5"
    with pytest.raises(CommandError) as info:
        proc.stream(["sh", "-c", script], stream, "the job", on_line=seen.append, tail=3,
                    hint=lambda tail: "last: " + tail.splitlines()[-1])
    err = info.value
    assert err.message == "the job failed" and err.returncode == 5
    assert err.command == f"sh -c '{script}'"
    assert err.log_tail == "line 79\nline 80\noops"
    assert err.log_path == str(tmp_path / "logs" / "job.log") and err.hint == "last: oops"
    log = Path(err.log_path).read_text().splitlines()
    assert log[0] == f"$ sh -c '{script}'" and log[1:] == [f"line {i}" for i in range(1, 81)] + ["oops"]
    assert len(seen) == 81
    assert "full log: " + err.log_path in err.render()


def test_a_streamed_command_that_succeeds_raises_nothing(tmp_path):
    stream = build(tmp_path)
    proc.stream(["sh", "-c", "echo fine"], stream, "the job")
    assert stream.closed and stream.tail_text() == "$ sh -c 'echo fine'\nfine"


def test_a_missing_program_says_what_to_install(tmp_path, monkeypatch):
    with pytest.raises(ProgramMissing) as info:
        proc.run(["mysqlbuild-no-such-program", "--version"], needed_for="show that it is missing")
    assert info.value.message == ("mysqlbuild-no-such-program is not installed on this host; "
                                  "it is needed to show that it is missing")
    assert info.value.hint == "install mysqlbuild-no-such-program, or put it on the PATH"
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProgramMissing) as info:
        proc.require("rpm", "check the built RPMs")
    assert info.value.message == "rpm is not installed on this host; it is needed to check the built RPMs"
    assert info.value.hint == "install it: apt-get install rpm (Debian/Ubuntu) or yum install rpm"
    stream = build(tmp_path)
    with pytest.raises(ProgramMissing) as info:
        proc.stream(["debootstrap", "stable"], stream, "debootstrap", needed_for="make a base image")
    assert info.value.hint == "install it: apt-get install debootstrap"
    assert stream.closed and (tmp_path / "logs" / "job.log").read_text() == "$ debootstrap stable\n"


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_ctrl_c_stops_the_command_and_what_it_started(tmp_path, ctrl_c):
    """SIGINT to us while the command runs: it and its background job end, the log is closed, Interrupted."""
    out = io.StringIO()
    stream = build(tmp_path, out)
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $$ $! > {pids}; echo ready; wait"

    def on_line(line: str) -> None:
        if line.strip() == "ready":
            os.kill(os.getpid(), signal.SIGINT)         # what a Ctrl-C in the terminal sends us

    started = time.monotonic()
    with pytest.raises(Interrupted):
        proc.stream(["sh", "-c", script], stream, "the job", on_line=on_line)
    assert time.monotonic() - started < proc.STOP_GRACE, "SIGINT ended it; no wait for the SIGKILL"
    shell, background = (int(x) for x in pids.read_text().split())
    deadline = time.monotonic() + 5
    while not (gone(shell) and gone(background)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(shell) and gone(background), "the shell and its background sleep (which ignores SIGINT) ended"
    assert stream.closed and (tmp_path / "logs" / "job.log").read_text() == f"$ sh -c '{script}'\n"
