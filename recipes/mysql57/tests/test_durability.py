"""Nothing acknowledged is lost: a SIGKILL in the middle of a stream of commits, and many sessions at once.

Both run real clients (sqlclients.sh, the image's own mysql client in a second
container) against a real server. Loads are bounded by a number of rows or a
number of seconds, smaller under QEMU; no assertion depends on how fast the
server is. The figures (rows acknowledged and found, queries per second) are
printed at the end of the run.
"""
from __future__ import annotations

import re
import time

import pytest

from imagetest import WAIT, load_schema, tagged_lines

PASSWORD = "durable-pw"


def acked_rows(out: str) -> dict[int, int]:
    """stream -> the last row whose commit the server acknowledged; acknowledgements come in order, 1, 2, ..."""
    last: dict[int, int] = {}
    for stream, row in ((int(a), int(b)) for a, b in tagged_lines(out, "ack")):
        assert row == last.get(stream, 0) + 1, f"stream {stream}: acknowledgement {row} after {last.get(stream, 0)}"
        last[stream] = row
    return last


def check_tables(server, *tables: str) -> None:
    """CHECK TABLE says OK for each of `tables`, and nothing else."""
    rows = [line.split("\t") for line in server.query(f"CHECK TABLE {', '.join(tables)}", password=PASSWORD)
            .splitlines()]
    assert sorted(row[0] for row in rows) == sorted(tables), rows
    assert all(row[2:] == ["status", "OK"] for row in rows), rows


# --- SIGKILL in the middle of a stream of commits ---------------------------------------------------------

CRASH_SCHEMA = (b"CREATE TABLE acked (stream INT NOT NULL, id INT NOT NULL, payload VARCHAR(256) NOT NULL, "
                b"PRIMARY KEY (stream, id)) ENGINE=InnoDB;\n"
                b"CREATE TABLE progress (stream INT PRIMARY KEY, n INT NOT NULL, last_id INT NOT NULL) ENGINE=InnoDB;\n")


def test_every_acknowledged_commit_survives_sigkill(servers, emulated, figure):
    """Streams of transactions (a row, and a counter in another table), each acknowledged by the server;
    SIGKILL to the container midway; a new container on the volume recovers, and every acknowledged row
    is there, the rows of each stream have no gap, the counters match the rows, CHECK TABLE says OK."""
    streams, kill_after = (2, 150) if emulated else (4, 1000)   # acknowledged rows in all, before the kill
    progress = "INSERT INTO progress VALUES " + ", ".join(f"({s}, 0, 0)" for s in range(1, streams + 1))
    volume = servers.volume()
    env = {"MYSQL_ROOT_PASSWORD": PASSWORD, "MYSQL_DATABASE": "crash", "MYSQL_INITDB_SKIP_TZINFO": "1"}
    first = servers.start(env=env, volume=volume,
                          init_files={"01-schema.sql": (CRASH_SCHEMA + progress.encode() + b";\n", 0o644)})
    first.wait_ready()
    clients = servers.clients(first, "stream", str(streams), "1000000", password=PASSWORD)

    deadline = time.monotonic() + WAIT
    while len(tagged_lines(clients.out(), "ack")) < kill_after:
        assert clients.running(), f"the clients stopped before the kill:\n{clients.err()[-2000:]}"
        assert time.monotonic() < deadline, (
            f"{len(tagged_lines(clients.out(), 'ack'))} of {kill_after} commits acknowledged within {WAIT} s:\n"
            f"{clients.err()[-2000:]}\n--- server log ---\n{first.logs()[-3000:]}")
        time.sleep(0.2)
    first.obj.kill(signal="SIGKILL")
    assert first.wait_exit(WAIT) == 137, "the server did not die of SIGKILL"
    clients.wait_exit(WAIT)
    out = clients.out()
    ends = {int(stream): int(status) for stream, status in tagged_lines(out, "end")}
    assert len(ends) == streams and all(ends.values()), \
        f"every stream must have been cut off by the kill, midway: {ends}\n{clients.err()[-2000:]}"
    acked = acked_rows(out)

    second = servers.start(volume=volume)
    try:
        second.wait_ready()
    except AssertionError as exc:
        pytest.fail(f"the server did not come back on the killed server's data directory: {exc}", pytrace=False)

    found = {}
    for line in second.query("SELECT stream, COUNT(*), MIN(id), MAX(id), SUM(payload = REPEAT(MD5(id), 8)) "
                             "FROM crash.acked GROUP BY stream", password=PASSWORD).splitlines():
        stream, count, low, high, intact = map(int, line.split("\t"))
        found[stream] = count
        assert (low, high, intact) == (1, count, count), f"stream {stream}: rows {low}..{high}, {count} found, " \
                                                         f"{intact} intact: a gap or a damaged row"
    counters = {int(s): (int(n), int(last)) for s, n, last in (
        line.split("\t") for line in second.query("SELECT stream, n, last_id FROM crash.progress",
                                                  password=PASSWORD).splitlines())}
    for stream in range(1, streams + 1):
        rows, last_ack = found.get(stream, 0), acked.get(stream, 0)
        # The kill may fall after a commit and before its acknowledgement: one more row, never one less.
        assert last_ack <= rows <= last_ack + 1, \
            f"stream {stream}: {last_ack} commits acknowledged, {rows} rows found after recovery"
        assert counters[stream] == (rows, rows), f"stream {stream}: counter {counters[stream]}, {rows} rows"
    check_tables(second, "crash.acked", "crash.progress")
    assert re.search(r"crash recovery", second.logs(), re.I), \
        f"no crash recovery in the log: InnoDB did not have to recover?\n{second.logs()[-3000:]}"
    figure(f"{streams} streams: {sum(acked.values())} commits acknowledged before SIGKILL, "
           f"{sum(found.values())} rows found after crash recovery, none missing; CHECK TABLE OK")


# --- many sessions at once ---------------------------------------------------------------------------------

def test_many_sessions_reading_and_writing_lose_nothing(servers, emulated, figure):
    """Sessions at once, each for a bounded time: a transaction writing a row and a counter, then reads of
    its rows and of everyone's counters, checked as they come; afterwards every acknowledged write is
    there. No error anywhere: clients, reads, the server's log."""
    sessions, seconds = (16, 20) if emulated else (48, 15)
    server = servers.start(env={"MYSQL_ROOT_PASSWORD": PASSWORD, "MYSQL_DATABASE": "load",
                                "MYSQL_INITDB_SKIP_TZINFO": "1"},
                           init_files={"01-schema.sql": (load_schema(sessions), 0o644)}).wait_ready()
    run = servers.load(server, sessions, seconds, password=PASSWORD)
    assert run.code == 0 and run.errors == 0 and not run.err.strip(), \
        f"exit {run.code}, {run.errors} sessions failed or did not report:\n{run.err[-3000:]}"
    assert run.lost == {}, f"session: (writes acknowledged, rows found, counter): {run.lost}"
    assert all(acked > 0 for acked, _, _ in run.reports.values()), run.reports
    assert run.connections >= sessions, f"only {run.connections} connections at once: the sessions did not overlap"
    assert server.errors(emulated) == [], "\n".join(server.errors(emulated))
    check_tables(server, "load.w", "load.sessions")
    figure(f"{sessions} sessions for {seconds} s ({run.elapsed:.1f} s to the last answer): {run.queries} queries, "
           f"{run.per_second:.0f} per second, {run.acked} writes acknowledged and found, {run.errors} errors, "
           f"{run.connections} connections at once")
