"""Starting programs: every process the pipeline runs on this host starts here.

After mkosi's single run()/spawn(), two ways:

- ``run()``: a short command, quietly; its ``Result``, or (``check``) a
  CommandError naming the command, its exit code and its output's last lines.
- ``stream()``: a long command (a BuildKit build, debootstrap, the image
  tests) whose every line goes into a progress ``BuildStream``: the whole
  output to the stream's log file, the lines that matter to the screen.  A
  failure is a CommandError with the command, the exit code, the last lines
  of the log and the log's path.

Both: a program that is not installed is a ``ProgramMissing`` error saying
what to install (``INSTALL``); ``require()`` asks the same before any work
starts.  Ctrl-C stops the child (SIGINT to its process group, as a terminal
would send it, SIGKILL when it does not end in time), waits for it and
raises ``Interrupted``.

``follow()`` is the line loop and Ctrl-C handling of ``stream()`` for output
that comes from something other than a child process here (a container's
main process: ``Engine.run_streamed``).
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence, Union

from .errors import CommandError, EngineError, Interrupted, ProgramMissing

if TYPE_CHECKING:
    from .progress import BuildStream

# What to install for each program the pipeline runs (apt-get names Debian's and Ubuntu's packages).
INSTALL = {
    "docker": "apt-get install docker.io (Debian/Ubuntu), yum install docker-ce (EL), or the static binaries "
              "from download.docker.com",
    "rpm": "apt-get install rpm (Debian/Ubuntu) or yum install rpm",
    "debootstrap": "apt-get install debootstrap",
    "git": "apt-get install git (Debian/Ubuntu) or yum install git",
    "tar": "apt-get install tar (Debian/Ubuntu) or yum install tar",
    "createrepo_c": "apt-get install createrepo-c (Debian 12, Ubuntu 22.04 and newer) or yum install createrepo_c",
    "rpmsign": "apt-get install rpm (Debian/Ubuntu: rpmsign is part of it) or yum install rpm-sign",
    "gpg": "apt-get install gnupg (Debian/Ubuntu) or yum install gnupg2",
}
STOP_GRACE = 10             # seconds a child has to end after SIGINT, before SIGKILL
QUIET_TAIL = 3000           # characters of a quiet command's output kept in its error

Hint = Union[str, Callable[[str], str], None]      # a hint, or one made from the output's last lines


@dataclass(frozen=True)
class Command:
    """A command line and the variables it adds to our environment."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    def display(self) -> str:
        """The command as a user would type it, variables first."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        return (prefix + " " if prefix else "") + shlex.join(self.argv)

    def environ(self) -> dict[str, str] | None:
        return dict(os.environ, **dict(self.env)) if self.env else None


@dataclass(frozen=True)
class Result:
    """What a finished quiet command left: its exit code, standard output and standard error."""

    command: Command
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


def _as_command(command: Command | Sequence[str]) -> Command:
    return command if isinstance(command, Command) else Command(tuple(command))


def require(program: str, needed_for: str = "") -> str:
    """The path of `program`, or ProgramMissing saying what needs it and what to install."""
    found = shutil.which(program)
    if found is None:
        raise _missing(program, needed_for)
    return found


def run(command: Command | Sequence[str], *, what: str = "", check: bool = True, timeout: float | None = None,
        hint: Hint = None, needed_for: str = "") -> Result:
    """Run `command` quietly and return its Result.

    With `check`, a non-zero exit raises CommandError("<what> failed") with the output's last
    characters; a command that does not end within `timeout` seconds is killed and raises
    CommandError (exit code 124) whatever `check` says.  On Ctrl-C the child is killed, then
    Interrupted."""
    command = _as_command(command)
    what = what or os.path.basename(command.argv[0])
    try:
        done = subprocess.run(command.argv, env=command.environ(), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", timeout=timeout)
    except KeyboardInterrupt:      # subprocess.run has killed the child and waited for it
        raise Interrupted() from None
    except subprocess.TimeoutExpired as exc:
        partial = _text(exc.stdout) + _text(exc.stderr)
        raise CommandError(f"{what}: no answer within {timeout:.0f} s", command=command.display(), exit_code=124,
                           log_tail=partial[-QUIET_TAIL:], hint=_hint(hint, partial)) from None
    except OSError as exc:
        raise _cannot_start(command, exc, needed_for) from None
    result = Result(command, done.returncode, done.stdout, done.stderr)
    if check and done.returncode != 0:
        output = done.stdout + done.stderr
        raise CommandError(f"{what} failed", command=command.display(), exit_code=done.returncode,
                           log_tail=output[-QUIET_TAIL:], hint=_hint(hint, output))
    return result


def stream(command: Command | Sequence[str], into: "BuildStream", what: str, *, hint: Hint = None,
           on_line: Callable[[str], None] | None = None, tail: int = 50, needed_for: str = "") -> None:
    """Run `command`, each line of its output (stdout and stderr) to `on_line` and into `into`, which is
    closed at the end; a non-zero exit raises CommandError("<what> failed") with the last `tail` lines
    of the log and its path."""
    command = _as_command(command)
    into.feed(f"$ {command.display()}")
    try:
        # A session of its own: Ctrl-C reaches us alone, and we stop the child and all it started.
        child = subprocess.Popen(command.argv, env=command.environ(), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                 bufsize=1, start_new_session=True)
    except OSError as exc:
        into.close()
        raise _cannot_start(command, exc, needed_for) from None
    assert child.stdout is not None
    with child.stdout:
        code = follow(child.stdout, into, stop=lambda: _stop(child), wait=child.wait, on_line=on_line)
    if code != 0:
        raise CommandError(f"{what} failed", command=command.display(), exit_code=code,
                           log_tail=into.tail_text(tail), log_path=str(into.log_path),
                           hint=_hint(hint, into.tail_text()))


def follow(lines: Iterable[str], into: "BuildStream", *, stop: Callable[[], None], wait: Callable[[], int],
           on_line: Callable[[str], None] | None = None) -> int:
    """Each of `lines` to `on_line`, then into `into`; then the exit code wait() gives.  `into` is
    closed at the end.  On Ctrl-C: stop() (which ends what makes the lines), then Interrupted."""
    with _interruptible(into, stop):
        for line in lines:
            if on_line is not None:
                on_line(line)
            into.feed(line)
        code = wait()
    into.close()
    return code


@contextmanager
def _interruptible(into: "BuildStream", stop: Callable[[], None]) -> Iterator[None]:
    """Whatever ends the block early: stop(), close `into`; Ctrl-C becomes Interrupted (one message, no
    traceback), anything else goes on as it is."""
    try:
        yield
    except BaseException as exc:
        try:
            stop()
        finally:
            into.close()
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted() from None
        raise


def _stop(child: subprocess.Popen) -> None:
    """End a child started in its own session: SIGINT to its group, SIGKILL after STOP_GRACE seconds;
    then SIGKILL to what it leaves in the group (a shell's background jobs ignore SIGINT)."""
    _signal_group(child, signal.SIGINT)
    try:
        child.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        _signal_group(child, signal.SIGKILL)
        child.wait()
    _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass        # the group has ended


def _missing(program: str, needed_for: str) -> ProgramMissing:
    name = os.path.basename(program)
    message = f"{program} is not installed on this host" + (f"; it is needed to {needed_for}" if needed_for else "")
    hint = f"install it: {INSTALL[name]}" if name in INSTALL else f"install {name}, or put it on the PATH"
    return ProgramMissing(message, hint)


def _cannot_start(command: Command, exc: OSError, needed_for: str) -> EngineError:
    if isinstance(exc, FileNotFoundError):
        return _missing(command.argv[0], needed_for)
    return EngineError(f"cannot run {command.argv[0]}: {exc.strerror or exc}",
                       "check that it is a program this user may run")


def _hint(hint: Hint, output: str) -> str | None:
    return hint(output) if callable(hint) else hint


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""
