"""The code that talks to the Docker engine.

BuildKit builds go through the docker CLI: ``docker buildx build`` when the
buildx plugin is there, otherwise ``DOCKER_BUILDKIT=1 docker build``, which is
all that Kylin V10's Docker 18.09/19.03 offers; so do ``docker manifest``
(the SDK has no manifest lists) and the client probes.  The CLI runs through
proc.py like every other program.  Images, containers, push, save and load go
through the docker SDK.

Nothing else in the pipeline talks to Docker.  Two things beside it do, on
purpose:

- ``mysqlbuild/testing.py``, the pytest plugin of the image tests: it runs in
  the pytest process that ``invoke verify`` starts (stages/verify.py), not in
  this one, and hands the tests SDK containers (the recipes' tests,
  ``recipes/*/tests/``, use them directly: exec, put_archive, volumes);
- ``tests/``, which checks what the pipeline made with the SDK and the CLI.
"""
from __future__ import annotations

import codecs
import functools
import os
import re
import shlex
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, Mapping

from . import proc
from .archs import Arch, arch_of_machine, host_arch
from .errors import CommandError, EngineError, PipelineError
from .proc import Command
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


def _probe(argv: list[str], timeout: float = 30) -> proc.Result | None:
    """A probe's result; None when the program cannot run or does not answer in time."""
    try:
        return proc.run(argv, check=False, timeout=timeout)
    except (CommandError, EngineError):       # no answer in time; not a program (Ctrl-C goes on)
        return None


@functools.lru_cache(maxsize=None)
def probe_client(path: str) -> ClientInfo | None:
    answer = _probe([path, "version", "--format", "{{.Client.Version}}"])
    version = answer.output.splitlines()[0].strip() if answer and answer.output else ""
    if not re.match(r"^\d", version):
        # `docker version` fails as a whole when the engine is down; the client part still prints.
        answer = _probe([path, "--version"])
        match = re.search(r"version (\d+\.\d+\.\d+\S*)", answer.output) if answer and answer.returncode == 0 \
            else None
        if not match:
            return None
        version = match.group(1).rstrip(",")
    buildx = _probe([path, "buildx", "version"])
    return ClientInfo(path=path, version=version, buildx=buildx is not None and buildx.returncode == 0)


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
        raise EngineError("no docker client found", "install Docker: " + proc.INSTALL["docker"])
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
        try:
            answer = proc.run(self._cli(client, ["buildx", "inspect", self.builder]), check=False, timeout=60)
            if answer.returncode == 0:
                return
            why = answer.output.splitlines()[-1] if answer.output else f"exit code {answer.returncode}"
        except CommandError as exc:         # no answer in time
            why = exc.message
        raise EngineError(f"--builder {self.builder}: buildx cannot use it ({why})",
                          f"docker buildx ls lists the builders; make one with docker buildx create --name "
                          f"{self.builder} ... (docs/builders.md)")

    def command(self, request: BuildRequest) -> Command:
        info = self.client
        return build_command(info.path, request, buildx=info.buildx, builder=self.builder,
                             docker_host=self.docker_host)

    def run_build(self, request: BuildRequest, stream: BuildStream, what: str) -> None:
        """Run one build, every line into `stream`; raise CommandError on failure."""
        try:
            command = self.command(request)
        except PipelineError:
            stream.close()
            raise
        proc.stream(command, stream, what, hint=_hint_for, tail=50)

    def _cli(self, client: ClientInfo, args: list[str], **env: str) -> Command:
        """A docker CLI command, pointed at the chosen engine."""
        pairs = ((("DOCKER_HOST", self.docker_host),) if self.docker_host else ()) + tuple(env.items())
        return Command((client.path, *args), pairs)

    # -- registries (manifest lists through the CLI: the SDK has none) -----------------
    def push(self, ref: str) -> None:
        """docker push of one tag; a refusal says what to do about it."""
        repo, tag = split_ref(ref)
        try:
            for event in self.sdk.images.push(repo, tag, stream=True, decode=True):
                if "error" in event:
                    raise EngineError(f"docker push {ref} failed: {event['error']}", registry_hint(event["error"]))
        except EngineError:
            raise
        except Exception as exc:  # the SDK raises APIError or connection errors
            raise EngineError(f"docker push {ref} failed: {exc}", registry_hint(str(exc))) from None

    def manifest_create(self, name: str, refs: list[str], *, insecure: bool = False) -> None:
        """The manifest list `name` over the pushed `refs` (amending one that exists), in the client's store."""
        self._manifest(["create", "--amend", *_insecure(insecure), name, *refs])

    def manifest_push(self, name: str, *, insecure: bool = False) -> None:
        self._manifest(["push", "--purge", *_insecure(insecure), name])

    def manifest_inspect(self, ref: str, *, insecure: bool = False) -> proc.Result:
        """What `docker manifest inspect` prints of `ref` (JSON), and the command that printed it."""
        return self._manifest(["inspect", *_insecure(insecure), ref])

    def _manifest(self, args: list[str], timeout: float = 600) -> proc.Result:
        command = self._cli(self.client, ["manifest", *args], DOCKER_CLI_EXPERIMENTAL="enabled")
        return proc.run(command, what=f"docker manifest {args[0]}", timeout=timeout, hint=registry_hint)

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

    def _start(self, image: str, command: list[str], *, entrypoint: list[str] | None = None,
               environment: Mapping[str, str] | None = None, platform: str | None = None, **kwargs):
        """A started container of `image` (an SDK object: it stays in this module)."""
        import docker

        try:
            return self.sdk.containers.run(image, command=command, entrypoint=entrypoint,
                                           environment=dict(environment or {}), platform=platform,
                                           detach=True, **kwargs)
        except docker.errors.ImageNotFound:
            raise EngineError(f"image {image} not found", "build it first: invoke image") from None
        except docker.errors.APIError as exc:
            raise EngineError(f"cannot start a container of {image}: {exc.explanation or exc}") from None

    def run_once(self, image: str, command: list[str], *, entrypoint: list[str] | None = None) -> tuple[int, str]:
        """Run `command` in a new container of `image`: its exit code and output (stdout and stderr).
        The container is removed."""
        import docker

        container = self._start(image, command, entrypoint=entrypoint)
        try:
            code = container.wait().get("StatusCode", 1)
            return code, container.logs(stdout=True, stderr=True).decode(errors="replace")
        except docker.errors.APIError as exc:
            raise EngineError(f"lost the container of {image} running {shlex.join(command)}: "
                              f"{exc.explanation or exc}") from None
        finally:
            _remove(container)

    def run_streamed(self, image: str, command: list[str], stream: BuildStream, *,
                     on_line: Callable[[str], None] | None = None, **kwargs) -> int:
        """Run `command` in a new container of `image` (more options: the SDK's containers.run), each
        line of its output to `on_line`, then into `stream`, which is closed at the end; returns the exit
        code.  The container is removed, at once on Ctrl-C (Interrupted)."""
        try:
            container = self._start(image, command, **kwargs)
        except PipelineError:
            stream.close()
            raise
        try:
            return proc.follow(log_lines(container.logs(stream=True, follow=True)), stream,
                               stop=lambda: _remove(container),
                               wait=lambda: container.wait().get("StatusCode", 1), on_line=on_line)
        finally:
            _remove(container)

    def copy_out(self, image: str, path: str, dest: Path) -> Path:
        """Copy the folder or file `path` of `image` into the host folder `dest` (modes and links kept, as
        `docker cp` does); returns dest / its name."""
        import docker

        try:
            container = self.sdk.containers.create(image, command=["true"])
        except docker.errors.ImageNotFound:
            raise EngineError(f"image {image} not found", "build it first") from None
        try:
            chunks, _ = container.get_archive(path)
            with tempfile.TemporaryFile() as spool:
                for chunk in chunks:
                    spool.write(chunk)
                spool.seek(0)
                with tarfile.open(fileobj=spool) as archive:
                    archive.extractall(dest, filter="tar")
        except docker.errors.NotFound:
            raise EngineError(f"{path} is not in image {image}") from None
        finally:
            _remove(container)
        return dest / PurePosixPath(path).name

    def read_file(self, image: str, path: str) -> str:
        """The text of one file in an image (a container that prints it and goes)."""
        code, out = self.run_once(image, ["cat", path], entrypoint=[])
        if code != 0:
            raise EngineError(f"cannot read {path} in image {image}: {out.strip()[-300:] or f'exit code {code}'}",
                              "rebuild the image: run the same command with --force")
        return out


def split_ref(ref: str) -> tuple[str, str]:
    """'host:5000/a/b:tag' -> ('host:5000/a/b', 'tag'); no tag means 'latest'."""
    name, _, last = ref.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
    else:
        tag = "latest"
    return (f"{name}/{last}" if name else last), tag


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:  # docker raises several unrelated types; the container may be gone already
        pass


def log_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Whole lines of a container's log, however its chunks cut them."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    rest = ""
    for chunk in chunks:
        rest += decoder.decode(chunk)
        *whole, rest = rest.split("\n")
        yield from (line.rstrip("\r") for line in whole)
    rest += decoder.decode(b"", final=True)
    if rest:
        yield rest


def _insecure(insecure: bool) -> list[str]:
    return ["--insecure"] if insecure else []


def registry_hint(text: str) -> str:
    """What to do when a registry refused a push or a manifest list."""
    if "HTTP response to HTTPS client" in text or "server gave HTTP" in text:
        return ("the registry speaks plain http: add it to \"insecure-registries\" in the engine's "
                "/etc/docker/daemon.json, restart dockerd, and pass --insecure to invoke push")
    if "unauthorized" in text or "denied" in text:
        return "log in first: docker login REGISTRY (Harbor: a robot account with push rights on the project)"
    return ("check the registry address, that it answers (curl -v https://REGISTRY/v2/), and that you may push "
            "to the path")


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
