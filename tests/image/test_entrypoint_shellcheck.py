"""shellcheck reports nothing on the image's shell scripts."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from fixtures import ROOT

SCRIPTS = sorted((ROOT / "entrypoint").glob("*.sh")) + sorted((ROOT / "recipes" / "mysql57" / "tests").glob("*.sh"))
# Passwords an option file must carry exactly: quotes of both kinds, '#', backslashes, escapes of its own.
PASSWORDS = ["plain", 'r"oot \'#\\ pw', "#first", "last\\", '"', "'", 'x"#y', "x'#y", "a\\nb", "a\\\"b",
             " spaces around ", "tab\there", "two\nlines", "ends with\r"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_shellcheck_is_silent(script):
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed (apt-get install shellcheck; ci/setup-host.sh does)", pytrace=False)
    result = subprocess.run(["shellcheck", "--shell=bash", str(script)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout, result.stdout


def test_entrypoint_can_be_sourced_without_running(tmp_path):
    """Sourcing defines the functions and starts nothing, so tests and tools can use them."""
    script = ROOT / "entrypoint" / "docker-entrypoint.sh"
    probe = ('source "$1" mysqld; declare -F _main mysql_init_database file_env >/dev/null && echo sourced-ok; '
             'mysql_sql_string "$2"; echo; mysql_sql_name "$3"')
    result = subprocess.run(["bash", "-c", probe, "probe", str(script), "it's \\ x", "a`b"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["sourced-ok", "'it''s \\\\ x'", "`a``b`"]


def test_the_clients_option_file_carries_any_password_exactly():
    """What the entrypoint's clients read root's password from (--defaults-extra-file on a pipe), read back
    by the option file reader MySQL and MariaDB share (mysys my_default; MariaDB's my_print_defaults here)."""
    if shutil.which("my_print_defaults") is None:
        pytest.fail("my_print_defaults is not installed (apt-get install mariadb-client; ci/setup-host.sh does)",
                    pytrace=False)
    script = ROOT / "entrypoint" / "docker-entrypoint.sh"
    probe = ('source "$1" mysqld; _ROOT_PASSWORD_NOW=$2; '
             'my_print_defaults --defaults-file=<(_client_option_file) client')
    for password in PASSWORDS:
        result = subprocess.run(["bash", "-c", probe, "probe", str(script), password], capture_output=True,
                                timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"--password={password}\n".encode(), (password, result.stdout)


@pytest.mark.parametrize("flavor, files, refused", [
    ("mysql", ["mysql/", "aria_log_control", "ibdata1"], True),    # MariaDB's data, MySQL's server
    ("mysql", ["mysql/", "ibdata1", "auto.cnf"], False),           # MySQL's own
    ("mariadb", ["mysql/", "aria_log_control", "ibdata1"], False),  # MariaDB's own
])
def test_mariadb_data_is_refused_by_mysql_before_the_server_starts(tmp_path, flavor, files, refused):
    """MySQL 5.7 crashes on a MariaDB data directory (signal 11, measured: docs/measurements.md) instead of
    refusing it: the entrypoint says what the directory is and what to do, and touches nothing."""
    for name in files:
        (tmp_path / name.rstrip("/")).mkdir() if name.endswith("/") else (tmp_path / name).write_text("x")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.iterdir())
    script = ROOT / "entrypoint" / "docker-entrypoint.sh"
    probe = 'source "$1" mysqld; SERVER_FLAVOR=$2 DATADIR=$3; mysql_check_datadir "$(mysql_datadir_state)"; echo usable'
    result = subprocess.run(["bash", "-c", probe, "probe", str(script), flavor, str(tmp_path)], capture_output=True,
                            text=True, timeout=30)
    if refused:
        assert result.returncode == 1 and "usable" not in result.stdout, result.stdout
        assert "was written by MariaDB" in result.stderr and "mysqldump --all-databases" in result.stderr
    else:
        assert result.returncode == 0 and result.stdout == "usable\n", result.stderr
    assert sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.iterdir()) == before
