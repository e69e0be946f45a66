"""What entrypoint/docker-entrypoint.sh does with variables, init files, data and signals.

Each server below is started once and checked by several tests. Waits are
bounded by 60 s.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import re

import pytest

from imagetest import DATADIR, WAIT, zstd_frame

SECRETS = "/run/secrets"
DATABASE = "db from file"
USER = "file_user"
ROOT_PASSWORD = "root-from-file"
USER_PASSWORD = "user-from-file"
EXPIRED = ("1820", "1862")  # MariaDB/MySQL: must change the password first / password expired
# MySQL 5.7's client, run in batch mode, sees error 1862 at login and prints only this, on stdout.
EXPIRED_BATCH = "Please use --connect-expired-password"
REFUSED = ("1045", "1130")  # access denied / host not allowed


def secret_files(**content: tuple[bytes, int]) -> dict[str, dict[str, tuple[bytes, int]]]:
    """Files for /run/secrets (where Docker puts secrets), for Servers.start(files=...)."""
    return {"/run": {f"secrets/{name}": value for name, value in content.items()}}


def sql_file(seq: int, name: str) -> bytes:
    return f"INSERT INTO init_log VALUES ({seq}, '{name}');\n".encode()


# Every kind of init file, named so that byte order differs from the order of creation.
INIT_FILES = {
    "01-table.sql": (b"CREATE TABLE init_log (seq INT PRIMARY KEY, name VARCHAR(40));\n", 0o644),
    "02-gzip.sql.gz": (gzip.compress(sql_file(2, "sql.gz")), 0o644),
    "03-bzip2.sql.bz2": (bz2.compress(sql_file(3, "sql.bz2")), 0o644),
    "04-xz.sql.xz": (lzma.compress(sql_file(4, "sql.xz")), 0o644),
    "05-zstd.sql.zst": (zstd_frame(sql_file(5, "sql.zst")), 0o644),
    # Executable: runs as its own process, so it has no entrypoint functions; its
    # `exit 0` would end the entrypoint if it were sourced.
    "06-run.sh": (b"#!/bin/bash\nset -e\n"
                  b"MYSQL_PWD=$MYSQL_ROOT_PASSWORD mysql -uroot --database=\"$MYSQL_DATABASE\" "
                  b"-e \"INSERT INTO init_log VALUES (6, 'run $(basename \"$0\")')\"\n"
                  b"exit 0\n", 0o755),
    # Not executable: sourced, so it can use the entrypoint's functions and array.
    "07-sourced.sh": (b"echo \"INSERT INTO init_log VALUES (7, 'sourced')\" "
                      b"| docker_process_sql --database=\"$MYSQL_DATABASE\"\n"
                      b"\"${mysql[@]}\" --version >/dev/null\n", 0o644),
    "08-ignored.txt": (b"not SQL\n", 0o644),
    "10-last.sql": (sql_file(10, "last"), 0o644),
}


@pytest.fixture(scope="module")
def from_files(module_servers):
    """Every secret variable in its _FILE form, and every kind of init file."""
    secrets = {"root_password": (ROOT_PASSWORD.encode() + b"\n", 0o444), "database": (DATABASE.encode(), 0o444),
               "user": (USER.encode(), 0o444), "password": (USER_PASSWORD.encode(), 0o444),
               "root_host": (b"127.0.0.1", 0o444)}
    server = module_servers.start(
        env={"MYSQL_ROOT_PASSWORD_FILE": f"{SECRETS}/root_password", "MYSQL_DATABASE_FILE": f"{SECRETS}/database",
             "MYSQL_USER_FILE": f"{SECRETS}/user", "MYSQL_PASSWORD_FILE": f"{SECRETS}/password",
             "MYSQL_ROOT_HOST_FILE": f"{SECRETS}/root_host"},
        init_files=INIT_FILES, files=secret_files(**secrets))
    return server.wait_ready()


def test_file_root_password_and_root_host(from_files):
    assert from_files.query("SELECT CURRENT_USER()", password=ROOT_PASSWORD) == "root@127.0.0.1"
    hosts = from_files.query("SELECT Host FROM mysql.user WHERE User = 'root' ORDER BY Host", password=ROOT_PASSWORD)
    assert hosts.split() == ["127.0.0.1", "localhost"]


def test_file_user_password_and_database(from_files):
    assert from_files.query("SELECT DATABASE()", user=USER, password=USER_PASSWORD, database=DATABASE) == DATABASE
    denied = from_files.sql("CREATE DATABASE other", user=USER, password=USER_PASSWORD)
    assert denied.code != 0 and "1044" in denied.err  # the user has rights on MYSQL_DATABASE only


def test_every_init_file_kind_ran_in_order_into_the_database(from_files):
    rows = from_files.query("SELECT seq, name FROM init_log ORDER BY seq", user=USER, password=USER_PASSWORD,
                            database=DATABASE)
    assert rows.splitlines() == ["2\tsql.gz", "3\tsql.bz2", "4\tsql.xz", "5\tsql.zst", "6\trun 06-run.sh",
                                 "7\tsourced", "10\tlast"]
    logs = from_files.logs()
    # Notes go to stdout, warnings (the ignored file) to stderr: Docker's log may interleave the two streams
    # out of order, so the order is read from stdout alone.
    notes = from_files.obj.logs(stdout=True, stderr=False).decode(errors="replace")
    order = [notes.index(f"/docker-entrypoint-initdb.d/{name}") for name in sorted(INIT_FILES)
             if name != "08-ignored.txt"]
    assert order == sorted(order)
    assert "running /docker-entrypoint-initdb.d/06-run.sh" in logs
    assert "sourcing /docker-entrypoint-initdb.d/07-sourced.sh" in logs
    assert "ignoring /docker-entrypoint-initdb.d/08-ignored.txt" in logs


def test_time_zone_tables_are_loaded_by_default(from_files):
    count = from_files.query("SELECT COUNT(*) FROM mysql.time_zone_name", password=ROOT_PASSWORD)
    assert int(count) > 300
    assert from_files.query("SELECT CONVERT_TZ('2024-01-01 00:00:00', 'UTC', 'Asia/Shanghai')",
                            password=ROOT_PASSWORD) == "2024-01-01 08:00:00"


def test_secrets_stay_out_of_the_server_environment(from_files):
    read = from_files.exec(["cat", "/proc/1/environ"], user="999:999")  # the server's own uid may read it
    assert read.code == 0 and "PATH=" in read.out, read.text
    assert ROOT_PASSWORD not in read.out and USER_PASSWORD not in read.out


def test_server_is_pid_1_running_as_mysql(from_files):
    """So that `docker stop` (SIGTERM to PID 1) reaches mysqld itself."""
    status = from_files.exec(["cat", "/proc/1/status"]).out
    assert re.search(r"^Name:\s+(mysqld|mariadbd)$", status, re.M), status
    assert re.search(r"^Uid:\s+999\s+999\s+999\s+999$", status, re.M), status


def test_health_check_passes_without_refused_logins(from_files):
    assert from_files.exec(["healthcheck.sh"]).code == 0
    assert from_files.exec(["healthcheck.sh"], user="999:999").code == 0
    assert "Access denied" not in from_files.logs()


# --- MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ONETIME_PASSWORD, MYSQL_ROOT_HOST=localhost --------------

@pytest.fixture(scope="module")
def random_onetime(module_servers):
    server = module_servers.start(env={"MYSQL_RANDOM_ROOT_PASSWORD": "yes", "MYSQL_ONETIME_PASSWORD": "yes",
                                       "MYSQL_ROOT_HOST": "localhost", "MYSQL_INITDB_SKIP_TZINFO": "1"})
    server.wait_ready()
    match = re.search(r"GENERATED ROOT PASSWORD: (\S+)", server.logs())
    assert match, server.logs()
    return server, match.group(1)


def test_random_root_password_is_printed_once_and_strong(random_onetime):
    server, password = random_onetime
    assert len(password) >= 24
    assert server.logs().count(password) == 1


def test_onetime_password_expires_root_even_without_root_at_percent(random_onetime):
    """Upstream always alters root@'%', which fails when MYSQL_ROOT_HOST is not %."""
    server, password = random_onetime
    expired = server.sql("SELECT 1", password=password, tcp=False)
    assert expired.code != 0, expired.text
    assert any(code in expired.err for code in EXPIRED) or EXPIRED_BATCH in expired.text, expired.text
    # The owner sets a new password, then works normally; root exists only as root@localhost.
    server.query("SET PASSWORD = PASSWORD('changed')", password=password, tcp=False,
                 extra=("--connect-expired-password",))
    assert server.query("SELECT Host FROM mysql.user WHERE User = 'root'", password="changed", tcp=False) \
        == "localhost"
    over_tcp = server.sql("SELECT 1", password="changed")
    assert over_tcp.code != 0 and any(code in over_tcp.err for code in REFUSED), over_tcp.text


# --- MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_INITDB_SKIP_TZINFO, MYSQL_USER without MYSQL_PASSWORD -----

@pytest.fixture(scope="module")
def empty_password(module_servers):
    server = module_servers.start(env={"MYSQL_ALLOW_EMPTY_PASSWORD": "yes", "MYSQL_INITDB_SKIP_TZINFO": "yes",
                                       "MYSQL_USER": "lonely"})
    return server.wait_ready()


def test_allow_empty_password_gives_root_at_percent_without_password(empty_password):
    assert empty_password.query("SELECT CURRENT_USER()") == "root@%"


def test_skip_tzinfo_leaves_the_time_zone_tables_empty(empty_password):
    assert empty_password.query("SELECT COUNT(*) FROM mysql.time_zone_name") == "0"
    assert "MYSQL_INITDB_SKIP_TZINFO is set" in empty_password.logs()


def test_user_without_password_is_not_created_and_said_so(empty_password):
    assert empty_password.query("SELECT COUNT(*) FROM mysql.user WHERE User = 'lonely'") == "0"
    assert "MYSQL_USER is set but MYSQL_PASSWORD is not" in empty_password.logs()


# --- arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize("argument", ["--version", "--help"])
def test_help_and_version_skip_initialisation(servers, argument):
    volume = servers.volume()
    container = servers.start(command=[argument], volume=volume)  # no password option: would fail if it initialised
    assert container.wait_exit(WAIT) == 0, container.logs()
    assert "Ver " in container.logs() if argument == "--version" else "--verbose --help" in container.logs()
    assert "Entrypoint" not in container.logs()
    assert container.listing() == []


def test_runs_as_user_999_without_gosu(servers):
    server = servers.start(env={"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_INITDB_SKIP_TZINFO": "1"},
                           user="999:999").wait_ready()
    assert "switching to user mysql" not in server.logs()
    assert server.query("SELECT 1", password="pw") == "1"
    assert server.exec(["id", "-u"]).out.strip() == "999"


# --- restarts, SIGTERM, data that exists --------------------------------------------------------

def test_sigterm_stops_cleanly_and_a_restart_keeps_data_and_changes_nothing(servers):
    volume = servers.volume()
    first = servers.start(env={"MYSQL_ROOT_PASSWORD": "first", "MYSQL_DATABASE": "keep",
                               "MYSQL_INITDB_SKIP_TZINFO": "1"},
                          init_files={"01.sql": (b"CREATE TABLE t (id INT PRIMARY KEY);\n", 0o644)},
                          volume=volume).wait_ready()
    first.query("INSERT INTO keep.t VALUES (1)", password="first")  # autocommit: committed
    first.obj.stop(timeout=120)  # SIGTERM; SIGKILL (exit code 137) only after 120 s
    assert first.exit_code() == 0, f"mysqld did not stop cleanly on SIGTERM:\n{first.logs()[-3000:]}"
    assert re.search(r"Shutdown complete|shutdown complete", first.logs()), first.logs()[-3000:]

    # Different variables and another init file: all ignored, the data is used as it is.
    second = servers.start(env={"MYSQL_ROOT_PASSWORD": "second", "MYSQL_DATABASE": "other"},
                           init_files={"01.sql": (b"CREATE TABLE t (id INT PRIMARY KEY);\n", 0o644),
                                       "02.sql": (b"INSERT INTO t VALUES (2);\n", 0o644)},
                           volume=volume).wait_ready()
    assert "initialisation skipped" in second.logs()
    assert second.query("SELECT GROUP_CONCAT(id) FROM keep.t", password="first") == "1"
    assert second.sql("SELECT 1", password="second").code != 0
    assert "other" not in second.query("SHOW DATABASES", password="first").split("\n")


def test_restart_without_any_variable_uses_existing_data(servers):
    volume = servers.volume()
    first = servers.start(env={"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_INITDB_SKIP_TZINFO": "1"},
                          volume=volume).wait_ready()
    first.obj.stop(timeout=30)
    second = servers.start(volume=volume).wait_ready()  # no password option needed any more
    assert second.query("SELECT 1", password="pw") == "1"


# --- bad input: a clear message, a non-zero exit, nothing a restart would trust -----------------

BAD_INPUT = {
    "no password option": ({}, {}, "no password option is given"),
    "MYSQL_USER=root": ({"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_USER": "root", "MYSQL_PASSWORD": "x"}, {},
                        "MYSQL_USER=root"),
    "both VAR and VAR_FILE": ({"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_ROOT_PASSWORD_FILE": f"{SECRETS}/pw"},
                              {"pw": (b"pw", 0o444)}, "both MYSQL_ROOT_PASSWORD and MYSQL_ROOT_PASSWORD_FILE"),
    "both USER and USER_FILE": ({"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_USER": "a", "MYSQL_USER_FILE": f"{SECRETS}/u"},
                                {"u": (b"a", 0o444)}, "both MYSQL_USER and MYSQL_USER_FILE"),
    "missing _FILE": ({"MYSQL_ROOT_PASSWORD_FILE": f"{SECRETS}/absent"}, {}, "no such readable file"),
    "bad MYSQL_INIT_WAIT_SECONDS": ({"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_INIT_WAIT_SECONDS": "soon"}, {},
                                    "MYSQL_INIT_WAIT_SECONDS=soon is not a whole number"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_clearly_and_leaves_the_data_directory_empty(servers, case):
    env, secrets, message = BAD_INPUT[case]
    volume = servers.volume()
    container = servers.start(env=env, files=secret_files(**secrets), volume=volume)
    assert container.wait_exit(WAIT) != 0
    assert message in container.logs(), container.logs()
    assert container.listing() == []


def test_unreadable_file_fails_clearly(servers):
    """A secret readable by root only, with the container running as mysql (--user 999:999)."""
    container = servers.start(env={"MYSQL_ROOT_PASSWORD_FILE": f"{SECRETS}/pw"}, user="999:999",
                              files=secret_files(pw=(b"pw", 0o400)))
    assert container.wait_exit(WAIT) != 0
    assert "MYSQL_ROOT_PASSWORD_FILE=/run/secrets/pw: no such readable file" in container.logs()
    assert container.listing() == []


FAILING_INIT = {
    "bad.sql": (b"CREATE TABLE ok (id INT);\nTHIS IS NOT SQL;\n", 0o644),
    "fail.sh": (b"#!/bin/bash\necho 'fail.sh: giving up' >&2\nexit 3\n", 0o755),
    "sourced-fail.sh": (b"false\necho 'never reached'\n", 0o644),
}


@pytest.mark.parametrize("name", list(FAILING_INIT))
def test_failing_init_file_stops_and_the_restart_refuses_the_data(servers, name):
    volume = servers.volume()
    env = {"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_INITDB_SKIP_TZINFO": "1"}
    first = servers.start(env=env, init_files={name: FAILING_INIT[name]}, volume=volume)
    assert first.wait_exit(WAIT) != 0
    logs = first.logs()
    assert f"initialisation failed while running /docker-entrypoint-initdb.d/{name}" in logs, logs[-3000:]
    assert "never reached" not in logs
    assert ".init-in-progress" in first.listing()
    second = servers.start(env=env, volume=volume)
    assert second.wait_exit(WAIT) != 0
    assert "is half-initialised" in second.logs(), second.logs()


def test_stop_during_initialisation_is_quick_and_detected_on_restart(servers):
    volume = servers.volume()
    env = {"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_INITDB_SKIP_TZINFO": "1"}
    first = servers.start(env=env, volume=volume,
                          init_files={"01-slow.sh": (b"#!/bin/bash\nsleep 120\n", 0o755)})
    first.wait_log("running /docker-entrypoint-initdb.d/01-slow.sh")
    assert first.exec(["healthcheck.sh"]).code != 0  # not healthy while initialising
    first.obj.stop(timeout=120)  # SIGTERM; SIGKILL (exit code 137) only after 120 s
    assert first.exit_code() == 143, f"the entrypoint did not stop on SIGTERM:\n{first.logs()[-3000:]}"
    assert "when a stop signal arrived" in first.logs()
    before = first.listing()
    assert before == [".init-in-progress"]

    second = servers.start(env=env, volume=volume)
    assert second.wait_exit(WAIT) != 0
    assert "is half-initialised" in second.logs()
    assert second.listing() == before  # reported, not touched


def test_short_init_wait_fails_clearly(servers):
    volume = servers.volume()
    container = servers.start(env={"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_INIT_WAIT_SECONDS": "0"}, volume=volume)
    assert container.wait_exit(WAIT) != 0
    assert "did not accept connections within 0 s" in container.logs()
    assert container.listing() == [".init-in-progress"]


def test_data_directory_with_other_files_is_left_untouched(servers):
    volume = servers.volume()
    container = servers.start(env={"MYSQL_ROOT_PASSWORD": "pw"}, volume=volume,
                              files={DATADIR: {"notes.txt": (b"mine\n", 0o644)}})
    assert container.wait_exit(WAIT) != 0
    assert "holds files but no MySQL data" in container.logs()
    assert container.listing() == ["notes.txt"]
