"""The MySQL image's tests (recipes/mysql57/tests) on a real server, in CI.

Builds the MariaDB fixture image with the pipeline and runs its verify stage,
which runs recipes/mysql57/tests against it: what `invoke verify --recipe
tests/recipes/mariadb --arch amd64` does, and prints the figures the tests
measured (rows acknowledged and found after SIGKILL, queries per second).
About 3-4 minutes when the base image exists; making the Debian base by
debootstrap adds a few minutes once.
"""
from __future__ import annotations

import pytest

from mysqlbuild.engine import Engine
from mysqlbuild.errors import PipelineError
from mysqlbuild.pipeline import Pipeline
from mysqlbuild.progress import make_reporter
from mysqlbuild.settings import resolve
from mysqlbuild.testing import FIGURE

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def no_arm64_peer():
    """The fixture's arm64 image, if one was ever built here, would become the migration tests' peer, and
    MariaDB 10.11 for arm64 cannot run under qemu-user (docs/image.md): the tests run without it."""
    engine = Engine()
    tag = "mysqlbuild-mariadb-fixture:1.0-arm64"
    if engine.image_id(tag) is not None:
        engine.remove_image(tag)


def test_mysql_image_tests_pass_on_the_mariadb_fixture(mariadb_recipe, no_arm64_peer, tmp_path, capsys):
    work = tmp_path / "pipeline"
    settings = resolve({}, {}, {
        "recipe": str(mariadb_recipe.path), "arch": "amd64", "mirror": mariadb_recipe.mirror.as_uri(),
        "build_dir": str(work / "build"), "rpm_dir": str(work / "rpms"), "dist_dir": str(work / "dist"),
        "progress": "plain",
    })
    pipeline = Pipeline(settings, make_reporter("plain"))
    with capsys.disabled():
        print(f"\n{mariadb_recipe.note}")
    try:
        targets = pipeline.run("verify")
    except PipelineError as exc:
        pytest.fail(exc.render(), pytrace=False)
    log = targets[0].log_dir / "verify.log"
    text = log.read_text()
    assert " passed" in text and " failed" not in text, text[-3000:]
    with capsys.disabled():
        for line in text.splitlines():
            if line.startswith(FIGURE):
                print(line)
        print(text.strip().splitlines()[-1])
