"""What the user sees while the pipeline works, and the logs it keeps.

Two reporters share one interface: ``TtyReporter`` draws progress bars with
rich; ``Reporter`` prints lines, for CI logs and pipes.  Build output is
always written whole to a log file; the terminal gets the stage headers and
make's ``[ NN%]`` progress, never the flood.

A build is a ``BuildStream`` (the log, the last lines, make's percentage and
passes, the estimate of the time left) shown through a ``BuildView`` that its
reporter made: the stream tells the view what changed, through the view's
public methods only.  Sizes are written with rich's own unit picker; the
durations of the line reporter keep their ``12m22s`` form (rich's columns
write ``0:12:22``, on the terminal).
"""
from __future__ import annotations

import re
import sys
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from rich.filesize import pick_unit_and_suffix

PERCENT_RE = re.compile(r"\[\s*(\d{1,3})%\]")
# BuildKit plain progress: "#7 [rpms 3/5] RUN ..." opens a step, "#7 DONE 1.2s" closes it.
STEP_RE = re.compile(r"^#\d+ \[(?P<name>[^\]]+)\] (?P<what>.*)$")


def human_bytes(count: float) -> str:
    """1023 B, 1.5 KiB, 20.3 MiB, 2.0 GiB: the units of rich's DownloadColumn(binary_units=True)."""
    unit, suffix = pick_unit_and_suffix(int(count), ["B", "KiB", "MiB", "GiB"], 1024)
    return f"{count:.0f} B" if unit == 1 else f"{count / unit:.1f} {suffix}"


def human_time(seconds: float) -> str:
    """45s, 12m22s, 3h05m."""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Transfer:
    def advance(self, count: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class BuildView:
    """How one build shows on the screen; its reporter makes it (``Reporter.build_view``), the
    ``BuildStream`` tells it what changed."""

    def step(self, what: str) -> None:  # pragma: no cover - interface
        """A BuildKit step began."""
        raise NotImplementedError

    def percent(self, stream: "BuildStream") -> None:  # pragma: no cover - interface
        """make's percentage (or the stream's detail) changed: read them from `stream`."""
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        """The build ended."""
        raise NotImplementedError


class BuildStream:
    """Receives the lines of one build: all go to the log, some to the screen (through `view`)."""

    def __init__(self, view: BuildView, title: str, log_path: Path, tail_lines: int = 50,
                 track_percent: bool = True, label: str = "compile"):
        self.view = view
        self.track_percent = track_percent
        self.label = label          # what the percentage counts: compile, tests
        self.detail = ""            # shown after it, e.g. "123 tests done, 1 failed"
        self.title = title
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # Line-buffered, so that `tail -f` of the log follows an hours-long compile as it goes.
        self._log: IO[str] = open(log_path, "w", encoding="utf-8", errors="replace", buffering=1)
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self.percent: int | None = None
        self.passes = 0
        self._percent_started: float | None = None
        self.current_step = ""

    @property
    def closed(self) -> bool:
        return self._log.closed

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        self._log.write(line + "\n")
        self.tail.append(line)
        step = STEP_RE.match(line)
        if step:
            what = f"[{step.group('name')}] {step.group('what')}"
            if what != self.current_step:
                self.current_step = what
                self.view.step(what)
            return
        match = PERCENT_RE.search(line) if self.track_percent else None
        if match:
            value = min(int(match.group(1)), 100)
            if self.percent is None or value < self.percent - 20:
                # make restarted (a second compile pass, e.g. a debug build): a new bar.
                self.passes += 1
                self._percent_started = time.monotonic()
            if value != self.percent:
                self.percent = value
                self.view.percent(self)

    def eta(self) -> float | None:
        if not self.percent or self._percent_started is None:
            return None
        elapsed = time.monotonic() - self._percent_started
        return elapsed * (100 - self.percent) / self.percent

    def close(self) -> None:
        """The build ended: the log is complete, the view goes.  A second call does nothing."""
        if not self._log.closed:
            self._log.close()
            self.view.close()

    def tail_text(self, lines: int | None = None) -> str:
        items = list(self.tail)
        if lines is not None:
            items = items[-lines:]
        return "\n".join(items)


class Reporter:
    """Plain text reporter: one line per event, safe for CI logs."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        self.depth = 0

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self._print(f"{'  ' * self.depth}==> {title}")
        start = time.monotonic()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        self._print(f"{'  ' * self.depth}    done: {title} ({human_time(time.monotonic() - start)})")

    def note(self, text: str) -> None:
        self._print(f"{'  ' * self.depth}{text}")

    def warn(self, text: str) -> None:
        self._print(f"{'  ' * self.depth}warning: {text}")

    # downloads --------------------------------------------------------------
    def transfer(self, name: str, total: int | None, start: int, resumed: bool) -> Transfer:
        return _PlainTransfer(self, name, total, start, resumed)

    # builds -----------------------------------------------------------------
    def build(self, title: str, log_path: Path, track_percent: bool = True, label: str = "compile") -> BuildStream:
        self.note(f"{title}: full log in {log_path}")
        view = self.build_view(title)
        try:
            return BuildStream(view, title, log_path, track_percent=track_percent, label=label)
        except BaseException:
            view.close()
            raise

    def build_view(self, title: str) -> BuildView:
        return _PlainBuildView(self)


class _PlainBuildView(BuildView):
    """Steps and every 5 % of make's progress as lines."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self.shown = -10            # the last percentage printed

    def step(self, what: str) -> None:
        self.reporter.note(f"  {what[:160]}")

    def percent(self, stream: BuildStream) -> None:
        value = stream.percent
        if value is None or not (value >= self.shown + 5 or value == 100 or value < self.shown):
            return
        self.shown = value
        eta = stream.eta()
        left = f", about {human_time(eta)} left" if eta is not None and value < 100 else ""
        detail = f" ({stream.detail})" if stream.detail else ""
        self.reporter.note(f"  {stream.label} {value:3d}%{left}{detail}")

    def close(self) -> None:
        pass


class _PlainTransfer(Transfer):
    def __init__(self, reporter: Reporter, name: str, total: int | None, start: int, resumed: bool):
        self.reporter, self.name, self.total = reporter, name, total
        self.done = start
        self.started = time.monotonic()
        self.first = start
        self.last_print = 0.0
        where = f" resuming at {human_bytes(start)}" if resumed else ""
        size = human_bytes(total) if total else "unknown size"
        reporter.note(f"downloading {name} ({size}){where}")

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last_print >= 5:
            self.last_print = now
            self.reporter.note(f"  {self.name}: {self._status(now)}")

    def _status(self, now: float) -> str:
        rate = (self.done - self.first) / max(now - self.started, 1e-6)
        part = f"{human_bytes(self.done)}"
        if self.total:
            part += f" of {human_bytes(self.total)} ({100 * self.done / self.total:.0f}%)"
        return f"{part} at {human_bytes(rate)}/s"

    def close(self) -> None:
        self.reporter.note(f"  {self.name}: {self._status(time.monotonic())}")


class TtyReporter(Reporter):
    """Progress bars for an interactive terminal (rich)."""

    def __init__(self, stream: IO[str] | None = None):
        super().__init__(stream)
        from rich.console import Console

        self.console = Console(file=self.stream)

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def transfer(self, name: str, total: int | None, start: int, resumed: bool) -> Transfer:
        return _RichTransfer(self.console, name, total, start)

    def build_view(self, title: str) -> BuildView:
        return _RichBuildView(self.console, title)


class _RichBuildView(BuildView):
    """A bar for make's progress, with the time spent and left; the steps printed above it."""

    def __init__(self, console, title: str):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console = console
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), TextColumn("left"),
                                 TimeRemainingColumn(), console=console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task(title[:40], total=100)
        self.shown_pass = 0         # the compile pass the bar counts

    def step(self, what: str) -> None:
        self.console.print(f"  {what[:150]}", markup=False, highlight=False)

    def percent(self, stream: BuildStream) -> None:
        if stream.passes > self.shown_pass:
            self.shown_pass = stream.passes
            self.progress.reset(self.task, total=100)
            self.progress.update(self.task, description=f"{stream.label} pass {stream.passes}")
        self.progress.update(self.task, completed=stream.percent)
        if stream.detail:
            self.progress.update(self.task, description=f"{stream.title[:24]}: {stream.detail}")

    def close(self) -> None:
        self.progress.stop()


class _RichTransfer(Transfer):
    def __init__(self, console, name: str, total: int | None, start: int):
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        self.progress = Progress(TextColumn(name), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                 TimeRemainingColumn(), console=console)
        self.progress.start()
        self.task = self.progress.add_task(name, total=total, completed=start)

    def advance(self, count: int) -> None:
        self.progress.advance(self.task, count)

    def close(self) -> None:
        self.progress.stop()


def make_reporter(mode: str = "auto", stream: IO[str] | None = None) -> Reporter:
    stream = stream or sys.stderr
    if mode == "tty" or (mode == "auto" and stream.isatty()):
        return TtyReporter(stream)
    return Reporter(stream)
