"""The reporters' views of a build and their units: the terminal's bars and the lines for CI logs."""
from __future__ import annotations

import io

from mysqlbuild.progress import Reporter, TtyReporter, human_bytes, human_time

LINES = ["#5 [rpms 2/3] RUN make", "#5 1.0 [  5%] a", "#5 2.0 [ 50%] b", "#5 3.0 [100%] c",
         "#5 4.0 [  1%] second pass", "#6 [export 1/1] COPY"]


def test_the_terminal_view_shows_steps_and_survives_a_second_pass(tmp_path):
    out = io.StringIO()
    stream = TtyReporter(out).build("rpmbuild", tmp_path / "rpms.log")
    for line in LINES:
        stream.feed(line)
    stream.detail = "3 tests done"
    stream.feed("#5 5.0 [  9%] more")
    assert stream.passes == 2
    stream.close()
    stream.close()          # a second close does nothing
    screen = out.getvalue()
    assert "[rpms 2/3] RUN make" in screen and "[export 1/1] COPY" in screen
    assert (tmp_path / "rpms.log").read_text().splitlines() == LINES + ["#5 5.0 [  9%] more"]


def test_the_line_view_prints_every_five_percent_with_the_detail(tmp_path):
    out = io.StringIO()
    stream = Reporter(out).build("tests", tmp_path / "t.log", label="tests")
    stream.detail = "2 tests done"
    for value in (1, 2, 3, 7, 8, 100):
        stream.feed(f"[{value:3d}%] x")
    stream.close()
    shown = [line.strip() for line in out.getvalue().splitlines()[1:]]
    assert [line.split("%")[0] for line in shown] == ["tests   1", "tests   7", "tests 100"]
    assert shown[-1] == "tests 100% (2 tests done)"


def test_sizes_and_durations():
    assert [human_bytes(n) for n in (0, 1023, 1024, 1536, 20 * 2**20 + 300_000, 2**31)] == \
        ["0 B", "1023 B", "1.0 KiB", "1.5 KiB", "20.3 MiB", "2.0 GiB"]
    assert [human_time(s) for s in (45, 742, 11100)] == ["45s", "12m22s", "3h05m"]
