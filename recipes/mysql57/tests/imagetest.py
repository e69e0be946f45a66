"""Helpers of the MySQL image tests: containers of the image under test and their checks.

The same tests run in CI against the MariaDB fixture image
(tests/recipes/mariadb), so nothing here assumes MySQL or MariaDB: the SQL is
what both accept, and error checks accept either server's code.

Every wait is bounded by 60 s, the official images' rule: a server that needs
longer fails its test. sqlclients.sh beside this file is the client of the
crash and load tests (and of bench/bench_load.py), run in a container of the
image in the server's network namespace.
"""
from __future__ import annotations

import io
import struct
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mysqlbuild.testing import wait_for_log

WAIT = 60  # seconds: the most any test waits for the server
INITDB = "/docker-entrypoint-initdb.d"
DATADIR = "/var/lib/mysql"
SQL_CLIENTS = Path(__file__).resolve().parent / "sqlclients.sh"
# qemu-user has no io_setup: InnoDB says so as an [ERROR] and falls back to its own I/O (FACTS.md).
QEMU_AIO_LINE = "Linux Native AIO interface is not supported"
# Every entry of the data directory (path, type, mode, owner, size, modification time), then each file's sha256.
SNAPSHOT = (f"cd {DATADIR} && find . -printf 'entry\\t%p\\t%y %m %U:%G %s %T@\\n' "
            "&& find . -type f -exec sha256sum {} + | sed 's/^\\([0-9a-f]*\\)  /sha256\\t\\1\\t/'")


def tar_of(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A tar holding name -> (content, mode), for put_archive."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def zstd_frame(data: bytes) -> bytes:
    """A valid .zst of `data` as one raw (stored) block: no zstd module needed."""
    if len(data) >= 1 << 17:
        raise ValueError("one raw zstd block holds at most 128 KiB")
    header = struct.pack("<IB", 0xFD2FB528, 0xA0) + struct.pack("<I", len(data))  # single segment, 4-byte size
    block = (1 | (len(data) << 3)).to_bytes(3, "little")  # last block, raw
    return header + block + data


class Result(NamedTuple):
    """Exit code, standard output and standard error of a command."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return f"{self.out}{self.err}"


@dataclass
class Server:
    """A container of the image under test, with the checks the tests need."""

    obj: Any
    docker: Any
    image: str
    started: float = field(default_factory=time.monotonic)

    @property
    def id(self) -> str:
        return self.obj.id

    def logs(self) -> str:
        return self.obj.logs().decode(errors="replace")

    def status(self) -> str:
        self.obj.reload()
        return self.obj.status

    def exit_code(self) -> int:
        self.obj.reload()
        return self.obj.attrs["State"]["ExitCode"]

    def wait_exit(self, timeout: float = WAIT) -> int:
        return self.obj.wait(timeout=timeout)["StatusCode"]

    def exec(self, command: list[str], env: dict[str, str] | None = None, user: str = "") -> Result:
        code, (out, err) = self.obj.exec_run(command, environment=env or {}, demux=True, user=user)
        return Result(code, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace"))

    def wait_ready(self, timeout: float = WAIT) -> "Server":
        """Until the image's own health check passes (the real server answers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status() != "running":
                raise AssertionError(f"the container stopped (exit code {self.exit_code()}):\n{self.logs()[-4000:]}")
            if self.exec(["healthcheck.sh"]).code == 0:
                return self
            time.sleep(0.5)
        raise AssertionError(f"not ready within {timeout} s:\n{self.logs()[-4000:]}")

    def wait_log(self, text: str, timeout: float = WAIT) -> str:
        return wait_for_log(self.obj, text, timeout)

    def client_args(self, query: str, user: str, database: str | None, tcp: bool, extra: tuple[str, ...]) -> list[str]:
        args = ["mysql", "--user=" + user, "--batch", "--skip-column-names", *extra, "--execute=" + query]
        if tcp:
            args[1:1] = ["--protocol=tcp", "--host=127.0.0.1", "--port=3306"]
        else:
            args[1:1] = ["--protocol=socket"]
        if database is not None:
            args.append("--database=" + database)
        return args

    def sql(self, query: str, *, user: str = "root", password: str | None = None, database: str | None = None,
            tcp: bool = True, extra: tuple[str, ...] = ()) -> Result:
        """Run `query` with the image's client inside the container (TCP on 127.0.0.1 by default)."""
        env = {"MYSQL_PWD": password} if password is not None else {}
        return self.exec(self.client_args(query, user, database, tcp, extra), env)

    def query(self, query: str, **kwargs: Any) -> str:
        result = self.sql(query, **kwargs)
        assert result.code == 0, f"{query!r} failed ({result.code}): {result.text}"
        return result.out.strip()

    def sql_from_other_container(self, query: str, *, user: str, password: str, database: str | None = None) -> Result:
        """Run `query` from a second container of the image, over TCP, sharing this one's network namespace."""
        args = self.client_args(query, user, database, True, ())
        other = self.docker.containers.run(self.image, command=args, environment={"MYSQL_PWD": password},
                                           network_mode=f"container:{self.id}", detach=True)
        try:
            code = other.wait(timeout=WAIT)["StatusCode"]
            out = other.logs(stdout=True, stderr=False).decode(errors="replace")
            err = other.logs(stdout=False, stderr=True).decode(errors="replace")
            return Result(code, out, err)
        finally:
            other.remove(force=True)

    def errors(self, emulated: bool) -> list[str]:
        """The [ERROR] lines of its log; under QEMU without the native-AIO line, an emulation artefact."""
        return [line for line in self.logs().splitlines()
                if "[ERROR]" in line and not (emulated and QEMU_AIO_LINE in line)]

    def listing(self, path: str = DATADIR) -> list[str]:
        """Names directly under `path` (works on stopped containers too)."""
        stream, _ = self.obj.get_archive(path.rstrip("/") + "/.")
        raw = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=raw) as archive:
            names = {m.name.split("/")[1] for m in archive.getmembers() if m.name.count("/") >= 1 and m.name.split("/")[1]}
        return sorted(names)


@dataclass
class Clients:
    """A container running sqlclients.sh (stdout: acknowledgements and summaries; stderr: errors)."""

    obj: Any

    def out(self) -> str:
        return self.obj.logs(stdout=True, stderr=False).decode(errors="replace")

    def err(self) -> str:
        return self.obj.logs(stdout=False, stderr=True).decode(errors="replace")

    def running(self) -> bool:
        self.obj.reload()
        return self.obj.status == "running"

    def wait_exit(self, timeout: float) -> int:
        return self.obj.wait(timeout=timeout)["StatusCode"]


def tagged_lines(text: str, tag: str) -> list[list[str]]:
    """The words of the lines of `text` that start with the word `tag` (without it)."""
    return [line.split()[1:] for line in text.splitlines() if line.split()[:1] == [tag]]


def elapsed_seconds(out: str) -> float:
    """The run's own measure of its duration (sqlclients.sh's last line)."""
    found = tagged_lines(out, "elapsed")
    assert found, f"sqlclients.sh did not finish:\n{out[-2000:]}"
    return int(found[-1][0]) / 1e9


def load_schema(sessions: int) -> bytes:
    """The tables of `sqlclients.sh mixed SESSIONS`, for an init file run in MYSQL_DATABASE=load."""
    return (b"CREATE TABLE w (session INT NOT NULL, seq INT NOT NULL, v CHAR(32) NOT NULL, "
            b"PRIMARY KEY (session, seq)) ENGINE=InnoDB;\n"
            b"CREATE TABLE sessions (session INT PRIMARY KEY, writes INT NOT NULL) ENGINE=InnoDB;\n"
            + ("INSERT INTO sessions VALUES " + ", ".join(f"({s}, 0)" for s in range(1, sessions + 1)) + ";\n")
            .encode())


@dataclass
class LoadResult:
    """What `sqlclients.sh mixed` reported, and what the server holds afterwards."""

    sessions: int
    seconds: int
    code: int                                   # the clients' exit code
    err: str                                    # their stderr: every error they met
    reports: dict[int, tuple[int, int, int]]    # session -> writes acknowledged, queries, errors
    elapsed: float                              # seconds from the first session's start to the last answer
    rows: dict[int, int]                        # session -> its rows in load.w
    counters: dict[int, int]                    # session -> its counter in load.sessions
    connections: int                            # Max_used_connections: sessions connected at once

    @property
    def queries(self) -> int:
        return sum(q for _, q, _ in self.reports.values())

    @property
    def acked(self) -> int:
        return sum(a for a, _, _ in self.reports.values())

    @property
    def errors(self) -> int:
        """Sessions that failed, and sessions that never reported."""
        return sum(e for _, _, e in self.reports.values()) + self.sessions - len(self.reports)

    @property
    def lost(self) -> dict[int, tuple[int, int, int | None]]:
        """session -> (writes acknowledged, rows found, counter) where they differ."""
        return {s: (acked, self.rows.get(s, 0), self.counters.get(s)) for s, (acked, _, _) in self.reports.items()
                if not acked == self.rows.get(s, 0) == self.counters.get(s)}

    @property
    def per_second(self) -> float:
        return self.queries / self.elapsed if self.elapsed else 0.0


def pairs(text: str) -> dict[int, int]:
    return {int(a): int(b) for a, b in (line.split("\t") for line in text.splitlines())}


class Servers:
    """Starts containers of the image; removes them (and their volumes) afterwards."""

    def __init__(self, docker_client: Any, image: str):
        self.docker = docker_client
        self.image = image
        self.containers: list[Any] = []
        self.volumes: list[Any] = []

    def volume(self) -> str:
        volume = self.docker.volumes.create(name=f"mysqlbuild-test-{uuid.uuid4().hex[:12]}")
        self.volumes.append(volume)
        return volume.name

    def start(self, *, env: dict[str, str] | None = None, command: list[str] | None = None,
              init_files: dict[str, tuple[bytes, int]] | None = None,
              files: dict[str, dict[str, tuple[bytes, int]]] | None = None, volume: str | None = None,
              user: str | None = None, image: str | None = None, **kwargs: Any) -> Server:
        """Create a container (of `image`, by default the image under test), copy files into it (init
        files, secrets, conf.d), start it."""
        image = image or self.image
        if volume is not None:
            kwargs["volumes"] = {volume: {"bind": DATADIR, "mode": "rw"}}
        obj = self.docker.containers.create(image, command=command, environment=env or {}, user=user or "",
                                            **kwargs)
        self.containers.append(obj)
        if init_files:
            obj.put_archive(INITDB, tar_of(init_files))
        for folder, content in (files or {}).items():
            obj.put_archive(folder, tar_of(content))
        obj.start()
        return Server(obj, self.docker, image)

    def clients(self, server: Server, *args: str, password: str, image: str | None = None) -> Clients:
        """sqlclients.sh `args` in a container of `image` (default: the server's) that shares the server's
        network namespace, logging in as root over TCP."""
        obj = self.docker.containers.create(image or server.image, command=["bash", "/tmp/sqlclients.sh", *args],
                                            environment={"MYSQL_PWD": password},
                                            network_mode=f"container:{server.id}")
        self.containers.append(obj)
        obj.put_archive("/tmp", tar_of({"sqlclients.sh": (SQL_CLIENTS.read_bytes(), 0o755)}))
        obj.start()
        return Clients(obj)

    def load(self, server: Server, sessions: int, seconds: int, *, password: str,
             client_image: str | None = None) -> LoadResult:
        """`sqlclients.sh mixed` against `server` (made with load_schema in MYSQL_DATABASE=load), then what the
        server holds. The wait is bounded: the sessions' time and a margin for the last answers."""
        clients = self.clients(server, "mixed", str(sessions), str(seconds), password=password, image=client_image)
        code = clients.wait_exit(seconds + WAIT * 2)
        out = clients.out()
        reports = {int(w[0]): (int(w[2]), int(w[4]), int(w[6])) for w in tagged_lines(out, "session")}
        status = server.query("SHOW GLOBAL STATUS LIKE 'Max_used_connections'", password=password).split()
        return LoadResult(
            sessions, seconds, code, clients.err(), reports, elapsed_seconds(out) if code == 0 else 0.0,
            pairs(server.query("SELECT session, COUNT(*) FROM load.w GROUP BY session", password=password)),
            pairs(server.query("SELECT session, writes FROM load.sessions", password=password)), int(status[1]))

    def snapshot(self, volume: str) -> dict[str, str]:
        """path -> type, mode, owner, size, modification time and sha256 of every entry of a volume's data
        directory, read through a read-only mount."""
        obj = self.docker.containers.create(self.image, entrypoint=["bash", "-c", SNAPSHOT], command=[],
                                            volumes={volume: {"bind": DATADIR, "mode": "ro"}})
        try:
            obj.start()
            code = obj.wait(timeout=WAIT * 3)["StatusCode"]
            text = obj.logs().decode(errors="replace")
            assert code == 0 and text, f"reading the volume {volume} failed ({code}): {text[-2000:]}"
        finally:
            obj.remove(force=True)
        found: dict[str, str] = {}
        for line in text.splitlines():
            kind, first, second = line.split("\t", 2)
            path, value = (first, second) if kind == "entry" else (second, "sha256 " + first)
            found[path] = f"{found[path]} {value}" if path in found else value
        return found

    def cleanup(self) -> None:
        for obj in self.containers:
            try:
                obj.remove(force=True, v=True)
            except Exception:  # already gone
                pass
        for volume in self.volumes:
            try:
                volume.remove(force=True)
            except Exception:
                pass
