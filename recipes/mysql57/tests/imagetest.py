"""Helpers of the MySQL image tests: containers of the image under test and their checks.

The same tests run in CI against the MariaDB fixture image
(tests/recipes/mariadb), so nothing here assumes MySQL or MariaDB: the SQL is
what both accept, and error checks accept either server's code.

Every wait is bounded by 60 s, the official images' rule: a server that needs
longer fails its test.
"""
from __future__ import annotations

import io
import struct
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mysqlbuild.testing import wait_for_log

WAIT = 60  # seconds: the most any test waits for the server
INITDB = "/docker-entrypoint-initdb.d"
DATADIR = "/var/lib/mysql"


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

    def listing(self, path: str = DATADIR) -> list[str]:
        """Names directly under `path` (works on stopped containers too)."""
        stream, _ = self.obj.get_archive(path.rstrip("/") + "/.")
        raw = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=raw) as archive:
            names = {m.name.split("/")[1] for m in archive.getmembers() if m.name.count("/") >= 1 and m.name.split("/")[1]}
        return sorted(names)


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
              user: str | None = None, **kwargs: Any) -> Server:
        """Create a container, copy files into it (init files, secrets, conf.d), start it."""
        if volume is not None:
            kwargs["volumes"] = {volume: {"bind": DATADIR, "mode": "rw"}}
        obj = self.docker.containers.create(self.image, command=command, environment=env or {}, user=user or "",
                                            **kwargs)
        self.containers.append(obj)
        if init_files:
            obj.put_archive(INITDB, tar_of(init_files))
        for folder, content in (files or {}).items():
            obj.put_archive(folder, tar_of(content))
        obj.start()
        return Server(obj, self.docker, self.image)

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
