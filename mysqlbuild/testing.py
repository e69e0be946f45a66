"""pytest plugin for image tests: `invoke verify` loads it with `-p mysqlbuild.testing`.

Fixtures:
- ``image``: the image under test (``--mysqlbuild-image``);
- ``arch``: its architecture as ``uname -m`` prints it (``--mysqlbuild-arch``);
- ``expected_packages``: name -> version-release of the RPMs it must hold;
- ``docker_client``: a docker SDK client;
- ``run_container``: start a container of the image (removed after the test) and
  get a ``Container`` with its testinfra ``host``;
- ``image_host``: testinfra host of one idle container of the image, for the module;
- ``emulated``: whether the image runs under QEMU here (its architecture is not this machine's);
- ``image_files``: path -> sha256, mode and origin of every file the recipe that made the image
  (``--mysqlbuild-recipe``) puts into it: its files and its pinned downloads (gosu);
- ``peer``: the image of the other architecture of the same version (``--mysqlbuild-peer-image``),
  for the migration tests; they are skipped, saying so, when there is none;
- ``figure``: report a measured figure (rows acknowledged, checksums, queries per second); the
  figures are printed at the end of the run, one ``mysqlbuild figure:`` line each.

``wait_for_log`` waits for a line in a container's log (the recipes' helpers use it too).
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

IDLE = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 1; done"]
FIGURE = "mysqlbuild figure:"  # mysqlbuild/stages/verify.py shows these lines as they come
_FIGURES = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mysqlbuild", "image under test")
    group.addoption("--mysqlbuild-image", default=None, help="image to test")
    group.addoption("--mysqlbuild-arch", default=None, help="expected `uname -m` (aarch64, x86_64)")
    group.addoption("--mysqlbuild-packages", default="{}", help="JSON: package name -> version-release")
    group.addoption("--mysqlbuild-recipe", default=None, help="folder of the recipe that made the image")
    group.addoption("--mysqlbuild-peer-image", default=None,
                    help="the image of the other architecture of the same version, for the migration tests")
    group.addoption("--mysqlbuild-peer-arch", default=None, help="its `uname -m` (aarch64, x86_64)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_FIGURES] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("figures measured by the image tests")
        for line in figures:
            terminalreporter.write_line(f"{FIGURE} {line}")


@dataclass
class Container:
    obj: Any  # docker.models.containers.Container

    @property
    def id(self) -> str:
        return self.obj.id

    @property
    def host(self):
        import testinfra

        return testinfra.get_host(f"docker://{self.obj.id}")

    def reload(self) -> "Container":
        self.obj.reload()
        return self

    @property
    def status(self) -> str:
        self.obj.reload()
        return self.obj.status

    def logs(self) -> str:
        return self.obj.logs().decode(errors="replace")

    def wait(self, timeout: float = 60) -> int:
        return self.obj.wait(timeout=timeout)["StatusCode"]

    def ip(self) -> str:
        self.obj.reload()
        networks = self.obj.attrs["NetworkSettings"]["Networks"]
        return next(iter(networks.values()))["IPAddress"]

    def wait_for_log(self, text: str, timeout: float = 60) -> str:
        return wait_for_log(self.obj, text, timeout)


def wait_for_log(container: Any, text: str, timeout: float = 60) -> str:
    """The log of an SDK `container` once it holds `text`; fails when the container exits first or
    `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = container.logs().decode(errors="replace")
        if text in logs:
            return logs
        container.reload()
        if container.status == "exited":
            break
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not in the container's log within {timeout} s:\n"
                         f"{container.logs().decode(errors='replace')[-4000:]}")


@pytest.fixture(scope="session")
def image(request: pytest.FixtureRequest) -> str:
    value = request.config.getoption("--mysqlbuild-image")
    if not value:
        pytest.skip("no image under test (--mysqlbuild-image)")
    return value


@pytest.fixture(scope="session")
def arch(request: pytest.FixtureRequest) -> str | None:
    return request.config.getoption("--mysqlbuild-arch")


@pytest.fixture(scope="session")
def expected_packages(request: pytest.FixtureRequest) -> dict[str, str]:
    return json.loads(request.config.getoption("--mysqlbuild-packages") or "{}")


def runs_emulated(machine: str) -> bool:
    """True when an image whose `uname -m` is `machine` runs under QEMU here (not this machine's)."""
    return bool(machine) and machine != platform.machine()


@pytest.fixture(scope="session")
def emulated(arch) -> bool:
    """True when the image's architecture is not this machine's: it runs under QEMU, slowly."""
    return runs_emulated(arch)


def recipe_files(recipe_dir: str, arch: str) -> dict[str, dict[str, str]]:
    """Path in the image -> sha256, mode and origin ("file" or "download") of every file the recipe puts
    into its image for `arch` (any name of it: arm64 or aarch64)."""
    from .archs import get_arch
    from .recipe import load_recipe
    from .sources import sha256_file

    recipe = load_recipe(recipe_dir)
    files = {f.dest: {"sha256": sha256_file(f.src), "mode": f.mode, "from": "file"} for f in recipe.image.files}
    files.update({d.dest: {"sha256": d.sha256, "mode": d.mode, "from": "download"}
                  for d in recipe.image.downloads if d.arch == get_arch(arch).docker})
    return files


@pytest.fixture(scope="session")
def image_files(request: pytest.FixtureRequest, arch) -> dict[str, dict[str, str]]:
    recipe = request.config.getoption("--mysqlbuild-recipe")
    if not recipe or not arch:
        pytest.fail("which recipe made the image, for which architecture, is not given: run the tests with "
                    "invoke verify, or pass --mysqlbuild-recipe FOLDER and --mysqlbuild-arch", pytrace=False)
    return recipe_files(recipe, arch)


@dataclass(frozen=True)
class Peer:
    """The image of the other architecture, and its `uname -m`."""

    image: str
    arch: str


@pytest.fixture(scope="session")
def peer(request: pytest.FixtureRequest) -> Peer:
    image = request.config.getoption("--mysqlbuild-peer-image")
    if not image:
        pytest.skip("no image of the other architecture of this version (--mysqlbuild-peer-image): "
                    "invoke verify passes it once both images exist (invoke build --arch amd64,arm64)")
    return Peer(image, request.config.getoption("--mysqlbuild-peer-arch") or "")


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """figure(text): keep a measured figure of this test, printed at the end of the run."""
    figures = request.config.stash[_FIGURES]

    def add(text: str) -> None:
        figures.append(f"{request.node.name}: {text}")

    return add


@pytest.fixture(scope="session")
def docker_client():
    import docker

    return docker.from_env(version="auto", timeout=300)


@pytest.fixture
def run_container(docker_client, image) -> Callable[..., Container]:
    started: list[Any] = []

    def start(*, command: list[str] | str | None = None, entrypoint: list[str] | str | None = None,
              environment: dict[str, str] | None = None, image_ref: str | None = None, **kwargs) -> Container:
        obj = docker_client.containers.run(image_ref or image, command=command, entrypoint=entrypoint,
                                           environment=environment or {}, detach=True, **kwargs)
        started.append(obj)
        return Container(obj)

    yield start
    for obj in started:
        try:
            obj.remove(force=True, v=True)
        except Exception:  # already gone
            pass


@pytest.fixture(scope="module")
def image_host(docker_client, image):
    obj = docker_client.containers.run(image, entrypoint=IDLE, command=[], detach=True)
    try:
        yield Container(obj).host
    finally:
        obj.remove(force=True, v=True)
