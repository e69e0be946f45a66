"""No password in a process environment or on a command line.

The entrypoint's clients read root's password from an option file on a pipe
(--defaults-extra-file=/dev/fd/N), and the passwords never reach the
environment of a program it starts (executable init files excepted: scripts
written for the official image read them there). Checked on every client
process of a first start:

- client-wrapper.sh, put before the real client on PATH, keeps the environment
  (/proc/<pid>/environ) and command line (/proc/<pid>/cmdline) of each client
  process the entrypoint starts, then runs the real client in the same process
  (exec: same pid, same environment, same arguments);
- watch-processes.sh, started before the entrypoint, reads every process's
  environ and cmdline every 20 ms for the whole first start (with
  CAP_SYS_PTRACE, which root needs to read the environment of the mysql user's
  processes).

The passwords hold a double quote, a quote, '#', a backslash and spaces: what
an option file must carry exactly for the logins to work.
"""
from __future__ import annotations

from pathlib import Path

import pytest

SECRETS = "/run/secrets"
ROOT_PASSWORD = 'r"oot \'#\\ pw'
USER_PASSWORD = 'u"ser #\\pw\''
CLIENT_LOG = "/tmp/client-processes"

HERE = Path(__file__).resolve().parent

# A sourced init file that uses the entrypoint's client, while the passwords are exported for init files.
SOURCED = b"""echo "CREATE TABLE from_sourced (id INT)" | docker_process_sql --database="$MYSQL_DATABASE"\n"""


def start_watched(servers, form: str):
    wrapper, watcher = (HERE / "client-wrapper.sh").read_bytes(), (HERE / "watch-processes.sh").read_bytes()
    files = {"/usr/local/sbin": {"mysql": (wrapper, 0o755), "mariadb": (wrapper, 0o755)},
             "/usr/local/lib": {"watch-processes.sh": (watcher, 0o755)},
             "/run": {"watch-patterns": (f"{ROOT_PASSWORD}\n{USER_PASSWORD}\n".encode(), 0o600)}}
    env = {"MYSQL_DATABASE": "kept", "MYSQL_USER": "app"}
    if form == "file":
        files["/run"].update({"secrets/root": (ROOT_PASSWORD.encode(), 0o400),
                              "secrets/user": (USER_PASSWORD.encode(), 0o400)})
        env.update(MYSQL_ROOT_PASSWORD_FILE=f"{SECRETS}/root", MYSQL_PASSWORD_FILE=f"{SECRETS}/user")
    else:
        env.update(MYSQL_ROOT_PASSWORD=ROOT_PASSWORD, MYSQL_PASSWORD=USER_PASSWORD)
    # The watcher starts first, without the passwords Docker put into this shell's environment.
    command = ["bash", "-c", "env -u MYSQL_ROOT_PASSWORD -u MYSQL_PASSWORD bash /usr/local/lib/watch-processes.sh & "
                             "exec docker-entrypoint.sh mysqld"]
    return servers.start(env=env, command=command, files=files, cap_add=["SYS_PTRACE"],
                         init_files={"01-sourced.sh": (SOURCED, 0o644)}).wait_ready()


def exempt(hit: str) -> bool:
    """With the plain variables: a `docker exec` process, or the entrypoint's shell (the test's `bash -c`
    first) or a fork of it, as root, before it drops root; not gosu, which it starts without the passwords."""
    pid, tree, uid, _held, what = hit.split(" ", 4)
    if tree != "tree=1":
        return True
    cmdline = what.split(": ", 1)[1] if ": " in what else ""
    if uid != "uid=0" or not what.startswith("environ:") or any(w.endswith("gosu") for w in cmdline.split()[:2]):
        return False
    return "docker-entrypoint.sh" in cmdline or "-c env -u MYSQL_ROOT_PASSWORD" in cmdline


def read_records(server) -> dict[str, dict[str, list[str]]]:
    """pid -> {"environ": [...], "cmdline": [...]} of every client process the wrapper saw."""
    listing = server.exec(["sh", "-c", f"cd {CLIENT_LOG} && for f in *; do echo \"=== $f\"; cat \"$f\"; done"])
    assert listing.code == 0, listing.text
    records: dict[str, dict[str, list[str]]] = {}
    current: list[str] = []
    for line in listing.out.split("\n"):
        if line.startswith("=== "):
            pid, kind = line[4:].split(".")
            current = records.setdefault(pid, {}).setdefault(kind, [])
        else:
            current.append(line)
    return records


@pytest.mark.parametrize("form", ["file", "env"])
def test_no_password_in_any_client_environment_or_command_line(servers, form, figure):
    """`file`: MYSQL_ROOT_PASSWORD_FILE and MYSQL_PASSWORD_FILE; no process of the container may ever
    hold a password. `env`: the passwords in Docker's environment, which the entrypoint holds from Docker (with its
    forks) until it drops root; no program it starts may."""
    server = start_watched(servers, form)
    # Read first: the test's own clients below (docker exec, MYSQL_PWD) are not the entrypoint's.
    records = read_records(server)
    seen = server.exec(["cat", "/tmp/watch-seen"]).out
    hits = server.exec(["sh", "-c", "cat /tmp/watch-hits 2>/dev/null; true"]).out.splitlines()
    assert server.query("SELECT CURRENT_USER()", password=ROOT_PASSWORD) == "root@%"
    assert server.query("SELECT COUNT(*) FROM kept.from_sourced", user="app", password=USER_PASSWORD) == "0"
    readable = server.exec(["cat", "/proc/1/environ"])  # the server runs as mysql; root reads it with SYS_PTRACE
    assert readable.code == 0 and "PATH=" in readable.out, f"the watcher cannot read environments: {readable.text}"

    # Accounts, the health check account, the database, the user, time zones, the sourced file: at least six.
    assert len(records) >= 6, f"the wrapper saw {len(records)} client processes: was it on PATH?\n{records}"
    for pid, record in sorted(records.items()):
        environ, cmdline = record.get("environ", []), record.get("cmdline", [])
        assert cmdline and environ, f"client {pid}: nothing kept"
        names = {line.split("=", 1)[0] for line in environ}
        assert not names & {"MYSQL_PWD", "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD"}, f"client {pid}: {sorted(names)}"
        for secret in (ROOT_PASSWORD, USER_PASSWORD):
            assert not any(secret in line for line in environ + cmdline), f"client {pid} holds a password"
        assert any(arg.startswith("--defaults-extra-file=/dev/fd/") for arg in cmdline), \
            f"client {pid} got no option file on a pipe: {cmdline}"

    assert "--skip-networking" in seen, "the watcher did not see the temporary server: it did not watch the start"
    # Processes of `docker exec` (the health check, this test's commands) get the container's environment from
    # Docker, not from the entrypoint: with the plain variables they hold the passwords. So do the entrypoint
    # and its forks until it drops root: Docker gave them that environment. A process that ended or changed
    # before the watcher read who it was cannot be told apart: counted only where no process may hold one.
    if form == "env":
        hits = [hit for hit in hits if hit.split()[3] == "held" and not exempt(hit)]
    assert hits == [], "processes holding a password:\n" + "\n".join(sorted(set(hits)))
    # The program of each command line seen; under QEMU the first word is QEMU's binfmt interpreter.
    programs = {next((word for word in line.split(":", 1)[1].split() if "qemu" not in word), "")
                for line in seen.splitlines() if ":" in line} - {""}
    figure(f"{len(records)} client processes, each with its option file on a pipe and no password in its "
           f"environment or command line; the watcher saw {len(programs)} programs, none holding a password")
