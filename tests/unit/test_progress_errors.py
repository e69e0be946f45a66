"""Build output to progress and logs; failures rendered as one message."""
from __future__ import annotations

import io

from mysqlbuild.errors import CommandError, PipelineError
from mysqlbuild.progress import Reporter

BUILDKIT_LINES = [
    "#12 [rpms 4/4] RUN bash /usr/local/libexec/mysqlbuild-rpms mysql-community.spec",
    "#12 3.2 mysqlbuild: rpmbuild of mysql-community.spec with 2 parallel jobs",
    "#12 40.1 [  1%] Building C object zlib/CMakeFiles/zlib.dir/adler32.o",
    "#12 95.0 [ 10%] Building CXX object sql/CMakeFiles/sql.dir/sql_parse.cc.o",
    "#12 300.0 [ 55%] Linking CXX executable mysqld",
    "#12 400.0 [100%] Built target mysqld",
    "#12 401.0 [  2%] Building C object (second pass)",
    "#12 DONE 402.0s",
]


def test_make_percent_lines_become_progress_and_everything_goes_to_the_log(tmp_path):
    out = io.StringIO()
    reporter = Reporter(out)
    stream = reporter.build("rpmbuild", tmp_path / "logs" / "rpms.log")
    for line in BUILDKIT_LINES:
        stream.feed(line + "\n")
    assert stream.percent == 2 and stream.passes == 2
    stream.close()
    screen = out.getvalue()
    assert "[rpms 4/4] RUN bash" in screen
    assert "compile   1%" in screen and "compile  55%" in screen and "compile 100%" in screen
    assert "Building CXX object sql" not in screen, "the flood stays in the log"
    assert (tmp_path / "logs" / "rpms.log").read_text().splitlines() == BUILDKIT_LINES


def test_the_log_can_be_followed_while_the_build_runs(tmp_path):
    stream = Reporter(io.StringIO()).build("rpmbuild", tmp_path / "rpms.log")
    stream.feed(BUILDKIT_LINES[1] + "\n")
    assert (tmp_path / "rpms.log").read_text() == BUILDKIT_LINES[1] + "\n", "each line is in the file at once"
    stream.close()


def test_the_estimate_of_time_left_shrinks_with_progress(tmp_path):
    stream = Reporter(io.StringIO()).build("x", tmp_path / "x.log")
    stream.feed("[ 10%] a")
    stream._percent_started -= 100  # 100 s for the first 10 %
    assert 850 < stream.eta() < 950
    stream.feed("[ 50%] b")
    assert stream.eta() < 150
    stream.close()


def test_tail_keeps_the_last_lines(tmp_path):
    stream = Reporter(io.StringIO()).build("x", tmp_path / "x.log")
    for i in range(120):
        stream.feed(f"line {i}")
    stream.close()
    assert stream.tail_text().splitlines()[0] == "line 70"
    assert stream.tail_text(3) == "line 117\nline 118\nline 119"


def test_a_command_error_shows_command_exit_code_tail_log_and_hint():
    err = CommandError("rpmbuild of hello failed", command=["docker", "build", "--target", "export", "."],
                       exit_code=2, log_tail="a\nb: error", log_path="/b/logs/rpms.log", hint="fix the spec")
    text = err.render()
    assert text.splitlines() == [
        "error: rpmbuild of hello failed",
        "command: docker build --target export .",
        "exit code: 2",
        "last lines of the log:",
        "  | a",
        "  | b: error",
        "full log: /b/logs/rpms.log",
        "hint: fix the spec",
    ]


def test_a_plain_error_has_message_and_hint():
    assert PipelineError("x went wrong", "do y").render() == "error: x went wrong\nhint: do y"
