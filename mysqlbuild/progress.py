"""What the user sees while the pipeline works, and the logs it keeps.

Two reporters share one interface: ``TtyReporter`` draws progress bars with
rich; ``PlainReporter`` prints lines, for CI logs and pipes.  Build output is
always written whole to a log file; the terminal gets the stage headers and
make's ``[ NN%]`` progress, never the flood.
"""
from __future__ import annotations

import re
import sys
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

PERCENT_RE = re.compile(r"\[\s*(\d{1,3})%\]")
# BuildKit plain progress: "#7 [rpms 3/5] RUN ..." opens a step, "#7 DONE 1.2s" closes it.
STEP_RE = re.compile(r"^#\d+ \[(?P<name>[^\]]+)\] (?P<what>.*)$")
ERROR_RE = re.compile(r"^#\d+ ERROR: (?P<what>.*)$|^ERROR: |^error: ", re.IGNORECASE)


def _human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def _human_time(seconds: float) -> str:
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


class BuildStream:
    """Receives the lines of one build: all go to the log, some to the screen."""

    def __init__(self, reporter: "Reporter", title: str, log_path: Path, tail_lines: int = 50,
                 track_percent: bool = True, label: str = "compile"):
        self.reporter = reporter
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
        self.started = time.monotonic()
        self._percent_started: float | None = None
        self.current_step = ""

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        self._log.write(line + "\n")
        self.tail.append(line)
        step = STEP_RE.match(line)
        if step:
            what = f"[{step.group('name')}] {step.group('what')}"
            if what != self.current_step:
                self.current_step = what
                self.reporter._build_step(self, what)
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
                self.reporter._build_percent(self, value)

    def eta(self) -> float | None:
        if not self.percent or self._percent_started is None:
            return None
        elapsed = time.monotonic() - self._percent_started
        return elapsed * (100 - self.percent) / self.percent

    def close(self) -> None:
        if not self._log.closed:
            self._log.close()
        self.reporter._build_closed(self)

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
        self._print(f"{'  ' * self.depth}    done: {title} ({_human_time(time.monotonic() - start)})")

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
        return BuildStream(self, title, log_path, track_percent=track_percent, label=label)

    def _build_step(self, stream: BuildStream, what: str) -> None:
        self.note(f"  {what[:160]}")

    def _build_percent(self, stream: BuildStream, value: int) -> None:
        last = getattr(stream, "_plain_last", -10)
        if value >= last + 5 or value == 100 or value < last:
            stream._plain_last = value  # type: ignore[attr-defined]
            eta = stream.eta()
            left = f", about {_human_time(eta)} left" if eta is not None and value < 100 else ""
            detail = f" ({stream.detail})" if stream.detail else ""
            self.note(f"  {stream.label} {value:3d}%{left}{detail}")

    def _build_closed(self, stream: BuildStream) -> None:
        pass


class _PlainTransfer(Transfer):
    def __init__(self, reporter: Reporter, name: str, total: int | None, start: int, resumed: bool):
        self.reporter, self.name, self.total = reporter, name, total
        self.done = start
        self.started = time.monotonic()
        self.first = start
        self.last_print = 0.0
        where = f" resuming at {_human_bytes(start)}" if resumed else ""
        size = _human_bytes(total) if total else "unknown size"
        reporter.note(f"downloading {name} ({size}){where}")

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last_print >= 5:
            self.last_print = now
            self.reporter.note(f"  {self.name}: {self._status(now)}")

    def _status(self, now: float) -> str:
        rate = (self.done - self.first) / max(now - self.started, 1e-6)
        part = f"{_human_bytes(self.done)}"
        if self.total:
            part += f" of {_human_bytes(self.total)} ({100 * self.done / self.total:.0f}%)"
        return f"{part} at {_human_bytes(rate)}/s"

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

    def build(self, title: str, log_path: Path, track_percent: bool = True, label: str = "compile") -> BuildStream:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        stream = super().build(title, log_path, track_percent, label)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                            console=self.console, transient=True)
        progress.start()
        stream._rich = progress  # type: ignore[attr-defined]
        stream._task = progress.add_task(title[:40], total=100)  # type: ignore[attr-defined]
        return stream

    def _build_step(self, stream: BuildStream, what: str) -> None:
        stream._rich.console.print(f"  {what[:150]}", markup=False, highlight=False)  # type: ignore[attr-defined]

    def _build_percent(self, stream: BuildStream, value: int) -> None:
        progress = stream._rich  # type: ignore[attr-defined]
        if stream.passes > getattr(stream, "_rich_pass", 0):
            stream._rich_pass = stream.passes  # type: ignore[attr-defined]
            progress.reset(stream._task, total=100)  # type: ignore[attr-defined]
            progress.update(stream._task, description=f"{stream.label} pass {stream.passes}")  # type: ignore[attr-defined]
        progress.update(stream._task, completed=value)  # type: ignore[attr-defined]
        if stream.detail:
            progress.update(stream._task, description=f"{stream.title[:24]}: {stream.detail}")  # type: ignore[attr-defined]

    def _build_closed(self, stream: BuildStream) -> None:
        stream._rich.stop()  # type: ignore[attr-defined]


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
