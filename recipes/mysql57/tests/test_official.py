"""The checks every official Docker image must pass, as our own tests.

Clock in UTC, no hard-coded passwords, an overridden command runs as given,
a client works over TCP (user 0123456789012345, a database name with
spaces), an init SQL file runs into MYSQL_DATABASE, and --log-bin /
--server-id given as arguments reach the server. Each waits at most 60 s.
"""
from __future__ import annotations

import pytest

from imagetest import WAIT

USER = "0123456789012345"  # 16 characters: the longest user name 5.7 accepts
DATABASE = "test database with spaces"
ROOT_PASSWORD = "r00t-Pa55 'quoted' \\back"
USER_PASSWORD = "u5er pa55"


@pytest.fixture(scope="module")
def basics(module_servers):
    """MYSQL_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD in their plain form, one init SQL file."""
    init = {"10-init.sql": (b"CREATE TABLE from_init (id INT PRIMARY KEY, note VARCHAR(40));\n"
                            b"INSERT INTO from_init VALUES (1, 'written by 10-init.sql');\n", 0o644)}
    server = module_servers.start(env={"MYSQL_ROOT_PASSWORD": ROOT_PASSWORD, "MYSQL_DATABASE": DATABASE,
                                       "MYSQL_USER": USER, "MYSQL_PASSWORD": USER_PASSWORD},
                                  init_files=init)
    return server.wait_ready()


def test_clock_is_utc(servers):
    container = servers.start(command=["date", "+%Z"])
    assert container.wait_exit(WAIT) == 0
    assert container.logs() == "UTC\n"


def test_server_clock_is_utc(basics):
    assert basics.query("SELECT @@system_time_zone", password=ROOT_PASSWORD) == "UTC"


def test_override_command_prints_exactly_hi(servers):
    container = servers.start(command=["echo", "hi"])
    assert container.wait_exit(WAIT) == 0
    assert container.logs() == "hi\n"


def test_no_hard_coded_passwords_in_the_image(image_host):
    """Every account of /etc/shadow is locked or has no password, as the official test demands."""
    for line in image_host.file("/etc/shadow").content_string.splitlines():
        name, password = line.split(":")[:2]
        assert password in ("", "*", "!", "!!") or password.startswith(("!", "*")), \
            f"/etc/shadow: account {name} has a password hash baked into the image"
    for line in image_host.file("/etc/passwd").content_string.splitlines():
        name, password = line.split(":")[:2]
        assert password in ("x", "*", "!"), f"/etc/passwd: account {name} holds a password"


def test_no_server_account_without_a_password(basics):
    """After initialisation every password login needs a password (the servers' own locked accounts aside)."""
    rows = basics.query("SELECT CONCAT(User, '@', Host, ' ', plugin) FROM mysql.user "
                        "WHERE authentication_string = '' AND plugin IN ('', 'mysql_native_password') "
                        "AND User NOT IN ('mysql.sys', 'mysql.session', 'mysql.infoschema', 'mariadb.sys')",
                        password=ROOT_PASSWORD)
    assert rows == ""


def test_basics_over_tcp_from_another_container(basics):
    steps = [
        "CREATE TABLE basics (id INT PRIMARY KEY, word VARCHAR(20))",
        "INSERT INTO basics VALUES (1, 'one'), (2, 'two')",
        "DELETE FROM basics WHERE id = 1",
    ]
    for statement in steps:
        result = basics.sql_from_other_container(statement, user=USER, password=USER_PASSWORD, database=DATABASE)
        assert result.code == 0, result.text
    result = basics.sql_from_other_container("SELECT id, word FROM basics", user=USER, password=USER_PASSWORD,
                                             database=DATABASE)
    assert result.code == 0 and result.out.split() == ["2", "two"], result.text
    result = basics.sql_from_other_container("DROP TABLE basics", user=USER, password=USER_PASSWORD,
                                             database=DATABASE)
    assert result.code == 0, result.text


def test_root_password_with_quotes_and_backslash_works_over_tcp(basics):
    assert basics.query("SELECT CURRENT_USER()", password=ROOT_PASSWORD) == "root@%"
    wrong = basics.sql("SELECT 1", password="wrong")
    assert wrong.code != 0 and "1045" in wrong.err


def test_init_sql_ran_in_mysql_database(basics):
    rows = basics.query("SELECT note FROM from_init", user=USER, password=USER_PASSWORD, database=DATABASE)
    assert rows == "written by 10-init.sql"


def test_log_bin_and_server_id_as_arguments(servers):
    server = servers.start(env={"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_INITDB_SKIP_TZINFO": "1"},
                           command=["--log-bin=mysql-bin-test", "--server-id=7"]).wait_ready()
    assert server.query("SELECT @@log_bin, @@server_id", password="pw").split() == ["1", "7"]
    logs = server.query("SHOW BINARY LOGS", password="pw")
    assert "mysql-bin-test.000001" in logs
