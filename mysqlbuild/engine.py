"""The only code that talks to Docker.

BuildKit builds go through the docker CLI: ``docker buildx build`` when the
buildx plugin is there, otherwise ``DOCKER_BUILDKIT=1 docker build``, which is
all that Kylin V10's Docker 18.09/19.03 offers.  Containers, images, save and
load go through the docker SDK.
"""
from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

from .archs import Arch, arch_of_machine, host_arch
from .errors import CommandError, EngineError, Interrupted
from .progress import BuildStream

# Docker clients from 23.0 on route `docker build` to buildx; without the plugin
# they refuse DOCKER_BUILDKIT=1.  Older clients have BuildKit built in.
FIRST_CLIENT_WITHOUT_BUILTIN_BUILDKIT = 23


@dataclass(frozen=True)
class BuildRequest:
    dockerfile: Path
    context: Path
    platform: str
    target: str | None = None
    tags: tuple[str, ...] = ()
    output_dir: Path | None = None          # --output type=local,dest=...
    build_args: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    no_cache: bool = False


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    def display(self) -> str:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        return (prefix + " " if prefix else "") + shlex.join(self.argv)


@dataclass(frozen=True)
class ClientInfo:
    path: str
    version: str
    buildx: bool

    @property
    def major(self) -> int:
        match = re.match(r"(\d+)", self.version)
        return int(match.group(1)) if match else 0

    @property
    def builtin_buildkit(self) -> bool:
        return 0 < self.major < FIRST_CLIENT_WITHOUT_BUILTIN_BUILDKIT


def build_command(client: str, request: BuildRequest, *, buildx: bool, builder: str = "",
                  docker_host: str = "") -> Command:
    """The exact command line of one BuildKit build (pure; unit tested)."""
    if buildx:
        argv = [client, "buildx", "build"]
        if builder:
            argv += ["--builder", builder]
        env: list[tuple[str, str]] = []
    else:
        argv = [client, "build"]
        env = [("DOCKER_BUILDKIT", "1")]
    if docker_host:
        env.insert(0, ("DOCKER_HOST", docker_host))
    argv += ["--platform", request.platform, "--progress", "plain", "-f", str(request.dockerfile)]
    if request.target:
        argv += ["--target", request.target]
    for key, value in request.build_args:
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in request.labels:
        argv += ["--label", f"{key}={value}"]
    if request.no_cache:
        argv.append("--no-cache")
    for tag in request.tags:
        argv += ["-t", tag]
    if request.output_dir is not None:
        argv += ["--output", f"type=local,dest={request.output_dir}"]
    elif buildx and request.tags:
        argv.append("--load")
    argv.append(str(request.context))
    return Command(tuple(argv), tuple(env))


def _run_quiet(argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 30) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{shlex.join(argv)}: no answer within {timeout:.0f} s"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


@functools.lru_cache(maxsize=None)
def probe_client(path: str) -> ClientInfo | None:
    code, out = _run_quiet([path, "version", "--format", "{{.Client.Version}}"])
    version = out.splitlines()[0].strip() if out else ""
    if code == 127 or not re.match(r"^\d", version):
        # `docker version` fails as a whole when the engine is down; the client part still prints.
        code2, out2 = _run_quiet([path, "--version"])
        match = re.search(r"version (\d+\.\d+\.\d+\S*)", out2) if code2 == 0 else None
        if not match:
            return None
        version = match.group(1).rstrip(",")
    code, _ = _run_quiet([path, "buildx", "version"])
    return ClientInfo(path=path, version=version, buildx=code == 0)


def find_client(configured: str) -> ClientInfo:
    """The docker client to use.  An explicit path is taken as it is; the
    default name 'docker' also considers the other clients on the machine,
    because a newer client without buildx (which cannot use BuildKit) often
    shadows the distribution's own."""
    candidates: list[str] = []
    if configured != "docker":
        found = shutil.which(configured) or (configured if Path(configured).is_file() else None)
        if not found:
            raise EngineError(f"docker client {configured!r} not found",
                              "install Docker (Debian/Ubuntu: apt-get install docker.io) or set "
                              "MYSQLBUILD_DOCKER to the path of a docker client")
        candidates = [found]
    else:
        for item in [shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"]:
            if item and Path(item).is_file() and item not in candidates:
                candidates.append(item)
    infos = [info for info in (probe_client(c) for c in candidates) if info]
    if not infos:
        raise EngineError("no docker client found",
                          "install Docker: apt-get install docker.io (Debian/Ubuntu), yum install docker-ce "
                          "(EL), or the static binaries from download.docker.com")
    for info in infos:
        if info.buildx or info.builtin_buildkit:
            return info
    listed = ", ".join(f"{i.path} {i.version}" for i in infos)
    raise EngineError(
        f"no docker client here can run BuildKit builds ({listed}): clients from 23.0 on need the buildx plugin",
        "install the buildx plugin (package docker-buildx or docker-buildx-plugin), or point MYSQLBUILD_DOCKER "
        "at a docker client older than 23.0")


@dataclass
class Engine:
    docker: str = "docker"
    builder: str = ""
    docker_host: str = ""
    _client: ClientInfo | None = field(default=None, repr=False)

    # -- the CLI ---------------------------------------------------------------
    @property
    def client(self) -> ClientInfo:
        if self._client is None:
            client = find_client(self.docker)
            if self.builder and not client.buildx:
                raise EngineError(f"--builder {self.builder} needs the buildx plugin, which {client.path} "
                                  "does not have",
                                  "install docker-buildx, or drop --builder (use --docker-host for another engine)")
            if self.builder:
                self._check_builder(client)
            self._client = client       # only once it is known to be usable: a second call checks again
        return self._client

    def _check_builder(self, client: ClientInfo) -> None:
        """Fail before any stage runs when the named buildx builder is not there."""
        code, out = _run_quiet([client.path, "buildx", "inspect", self.builder], env=self.cli_env(), timeout=60)
        if code != 0:
            last = out.splitlines()[-1] if out else f"exit code {code}"
            raise EngineError(f"--builder {self.builder}: buildx cannot use it ({last})",
                              f"docker buildx ls lists the builders; make one with docker buildx create --name "
                              f"{self.builder} ... (docs/builders.md)")

    def command(self, request: BuildRequest) -> Command:
        info = self.client
        return build_command(info.path, request, buildx=info.buildx, builder=self.builder,
                             docker_host=self.docker_host)

    def run_build(self, request: BuildRequest, stream: BuildStream, what: str) -> None:
        """Run one build, every line into `stream`; raise CommandError on failure."""
        command = self.command(request)
        env = dict(os.environ)
        env.update(dict(command.env))
        stream.feed(f"$ {command.display()}")
        try:
            proc = subprocess.Popen(list(command.argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace", bufsize=1, start_new_session=True)
        except OSError as exc:
            stream.close()
            raise EngineError(f"cannot run {command.argv[0]}: {exc.strerror}") from None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                stream.feed(line)
            code = proc.wait()
        except KeyboardInterrupt:
            _stop(proc)
            stream.close()
            raise Interrupted() from None
        stream.close()
        if code != 0:
            raise CommandError(f"{what} failed", command=command.display(), exit_code=code,
                               log_tail=_interesting_tail(stream), log_path=str(stream.log_path),
                               hint=_hint_for(stream.tail_text()))

    def cli_env(self, **extra: str) -> dict[str, str]:
        """The environment for a docker CLI call: ours, pointed at the chosen engine."""
        env = dict(os.environ, **extra)
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
        return env

    def run_cli(self, args: list[str], timeout: float = 120, **env: str) -> tuple[int, str]:
        return _run_quiet([self.client.path, *args], env=self.cli_env(**env), timeout=timeout)

    # -- the SDK ---------------------------------------------------------------
    @functools.cached_property
    def sdk(self):
        import docker

        try:
            if self.docker_host:
                client = docker.DockerClient(base_url=self.docker_host, version="auto", timeout=300)
            else:
                client = docker.from_env(version="auto", timeout=300)
            client.ping()
        except Exception as exc:  # docker raises several unrelated types here
            where = self.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
            raise EngineError(
                f"the Docker engine at {where} does not answer ({type(exc).__name__}: {str(exc)[:200]})",
                "start it (systemctl start docker, or run dockerd), check that you may use its socket "
                "(root or the docker group), or set --docker-host / MYSQLBUILD_DOCKER_HOST") from None
        return client

    def native_arch(self) -> Arch | None:
        """The architecture builds run on: this machine's, or the --docker-host engine's."""
        if not self.docker_host:
            return host_arch()
        return arch_of_machine(self.info().get("Architecture", ""))

    def version(self) -> dict:
        return self.sdk.version()

    def info(self) -> dict:
        return self.sdk.info()

    def image_attrs(self, ref: str) -> dict | None:
        import docker

        try:
            return self.sdk.images.get(ref).attrs
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot inspect image {ref}: {exc.explanation or exc}") from None

    def image_id(self, ref: str) -> str | None:
        attrs = self.image_attrs(ref)
        return attrs["Id"] if attrs else None

    def image_arch(self, ref: str) -> str | None:
        attrs = self.image_attrs(ref)
        return attrs.get("Architecture") if attrs else None

    def tag(self, image: str, ref: str) -> None:
        import docker

        repo, tag = split_ref(ref)
        try:
            self.sdk.images.get(image).tag(repo, tag)
        except docker.errors.ImageNotFound:
            raise EngineError(f"cannot tag {image} as {ref}: no such image here",
                              "build it (invoke build) or load its archive (invoke load)") from None
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot tag {image} as {ref}: {exc.explanation or exc}",
                              "a registry path is lowercase: host[:port]/path, e.g. harbor.intranet:8443/dba") \
                from None

    def remove_image(self, ref: str) -> bool:
        import docker

        try:
            self.sdk.images.remove(ref, noprune=False)
            return True
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot remove image {ref}: {exc.explanation or exc}",
                              "stop the containers that use it first (docker ps -a)") from None

    def save_chunks(self, refs: list[str]) -> Iterator[bytes]:
        """`docker save` of the tags: the classic archive layout that Docker 18.09 loads."""
        import docker

        try:
            # Saving by tag keeps RepoTags in manifest.json, so `docker load` restores the name.
            yield from self.sdk.api.get_image(refs[0] if len(refs) == 1 else refs)
        except docker.errors.APIError as exc:
            raise EngineError(f"docker save {' '.join(refs)} failed: {exc.explanation or exc}") from None

    def load(self, path: Path) -> list[str]:
        import docker

        try:
            with open(path, "rb") as handle:
                images = self.sdk.images.load(handle)
        except docker.errors.APIError as exc:
            raise EngineError(f"docker load {path} failed: {exc.explanation or exc}",
                              "the archive may be damaged; check it against its .sha256 file") from None
        return [tag for image in images for tag in image.tags] or [image.id for image in images]

    def run_container(self, image: str, *, command: list[str] | None = None, entrypoint: list[str] | None = None,
                      environment: Mapping[str, str] | None = None, platform: str | None = None,
                      detach: bool = True, name: str | None = None, **kwargs):
        import docker

        try:
            return self.sdk.containers.run(image, command=command, entrypoint=entrypoint,
                                           environment=dict(environment or {}), platform=platform,
                                           detach=detach, name=name, **kwargs)
        except docker.errors.ImageNotFound:
            raise EngineError(f"image {image} not found", "build it first: invoke image") from None
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot start a container of {image}: {exc.explanation or exc}") from None

    def read_file(self, image: str, path: str) -> str:
        """The text of one file in an image (a container that prints it and goes)."""
        out = self.run_container(image, command=["cat", path], entrypoint=[], detach=False, remove=True)
        return out.decode(errors="replace") if isinstance(out, bytes) else str(out)


def split_ref(ref: str) -> tuple[str, str]:
    """'host:5000/a/b:tag' -> ('host:5000/a/b', 'tag'); no tag means 'latest'."""
    name, _, last = ref.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
    else:
        tag = "latest"
    return (f"{name}/{last}" if name else last), tag


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _interesting_tail(stream: BuildStream, lines: int = 50) -> str:
    return stream.tail_text(lines)


HINTS = (
    (re.compile(r"exec format error", re.I),
     "this host cannot run the target architecture: register QEMU in binfmt_misc "
     "(apt-get install qemu-user-static binfmt-support; see `invoke doctor`)"),
    (re.compile(r"failed to (resolve|do request|fetch)|pull access denied|dial tcp|no such host", re.I),
     "an image could not be pulled: check the network or registry mirror, or make the base locally "
     "with `invoke base`"),
    (re.compile(r"no space left on device", re.I),
     "the disk is full: free space in Docker's data folder (docker builder prune) and the cache folder"),
    (re.compile(r"(Killed|signal 9|virtual memory exhausted|out of memory)", re.I),
     "the compiler ran out of memory: lower --jobs (each job needs about 2 GB)"),
)


def _hint_for(text: str) -> str:
    for pattern, hint in HINTS:
        if pattern.search(text):
            return hint
    return "read the full log for the first error; after fixing it, run the same command again"
