"""shellcheck reports nothing on the image's shell scripts."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from fixtures import ROOT

SCRIPTS = sorted((ROOT / "entrypoint").glob("*.sh"))


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
