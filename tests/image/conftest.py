"""Fixtures of the image tests: the MariaDB fixture image built by the pipeline.

tests/recipes/mariadb is built exactly as `invoke verify --recipe
tests/recipes/mariadb --arch amd64` builds it (base, fetch, builder, rpms,
image, verify), with its sources served from a local file:// mirror made
here: the mysql-hostinfo tarball (made reproducibly from src/) and the gosu
binary of Debian's gosu package (CI installs it: ci/setup-host.sh; otherwise
it is fetched with apt-get download).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fixtures import ROOT, copy_recipe_elsewhere, edit_recipe, make_tarball

MARIADB = ROOT / "tests" / "recipes" / "mariadb"


@dataclass(frozen=True)
class FixtureRecipe:
    path: Path      # the recipe folder to build
    mirror: Path    # file:// mirror holding its sources by name
    note: str       # how gosu was obtained (for the test's output)


def debian_gosu(work: Path) -> Path:
    """The gosu binary of Debian's gosu package: installed, or fetched with apt-get download."""
    installed = Path("/usr/sbin/gosu")
    if installed.is_file():
        return installed
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.fail("need Debian's gosu: apt-get install gosu (ci/setup-host.sh does)", pytrace=False)
    debs = work / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "gosu"], cwd=debs, check=True, capture_output=True)
    tree = work / "gosu-deb"
    subprocess.run(["dpkg-deb", "-x", str(next(debs.glob("gosu_*.deb"))), str(tree)], check=True)
    return tree / "usr" / "sbin" / "gosu"


@pytest.fixture(scope="session")
def mariadb_recipe(tmp_path_factory) -> FixtureRecipe:
    work = tmp_path_factory.mktemp("mariadb-fixture")
    mirror = work / "mirror"
    mirror.mkdir()
    data = yaml.safe_load((MARIADB / "recipe.yaml").read_text())
    version = data["default_version"]
    source = data["versions"][version]["sources"][0]
    digest = make_tarball(MARIADB / "src", mirror / source["file"], source["file"].removesuffix(".tar.gz"))
    assert digest == source["sha256"], "src/ changed: update the tarball's sha256 in tests/recipes/mariadb/recipe.yaml"

    download = data["image"]["downloads"][0]
    gosu = debian_gosu(work)
    shutil.copyfile(gosu, mirror / download["file"])
    actual = hashlib.sha256(gosu.read_bytes()).hexdigest()
    if actual == download["sha256"]:
        return FixtureRecipe(MARIADB, mirror, f"gosu from {gosu}, sha256 as pinned in the recipe")
    # Debian rebuilt its gosu package: pin this binary's checksum in a copy of the recipe.
    copy = copy_recipe_elsewhere(MARIADB, work / "recipe")
    edit_recipe(copy, lambda d: d["image"]["downloads"][0].update(sha256=actual))
    return FixtureRecipe(copy, mirror, f"gosu from {gosu} differs from the pinned one: "
                                       f"built from a copy of the recipe pinning sha256 {actual}")
