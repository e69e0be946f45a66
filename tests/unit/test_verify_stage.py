"""invoke verify's plan and record, without Docker: the image tests get the recipe and, when it exists,
the other architecture's image; the plan says whether the migration tests run; a verify that ran
without that image runs again once it exists."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from mysqlbuild.engine import ClientInfo, Engine
from mysqlbuild.pipeline import Pipeline
from mysqlbuild.progress import Reporter
from mysqlbuild.settings import Settings
from mysqlbuild.stages.verify import STAGE, peer_target, pytest_command


@dataclass
class ImagesEngine(Engine):
    """An engine whose images are a dict: tag -> id."""

    images: dict[str, str] = field(default_factory=dict)

    def image_id(self, ref: str) -> str | None:
        return self.images.get(ref)


def pipeline(tmp_path, images: dict[str, str], **changes) -> Pipeline:
    settings = Settings(recipe="mysql57", base="debian11", build_dir=str(tmp_path / "build")).with_(**changes)
    engine = ImagesEngine(_client=ClientInfo("/usr/bin/docker", "20.10.24", buildx=False), images=images)
    return Pipeline(settings, Reporter(io.StringIO()), engine=engine)


def verify_lines(p: Pipeline) -> dict[str, list[str]]:
    """arch -> the summary lines of its verify stage in the plan."""
    return {t.arch.docker: next(sp.summary for sp in stages if sp.stage == "verify") for t, stages in p.plan("verify")}


def test_the_tests_get_the_recipe_and_the_peer(tmp_path):
    command = pytest_command(tmp_path, image="mysql:1-arm64", arch="aarch64", packages={},
                             recipe=tmp_path / "recipe", peer=("mysql:1-amd64", "x86_64"))
    assert command[command.index("--mysqlbuild-recipe") + 1] == str(tmp_path / "recipe")
    assert command[command.index("--mysqlbuild-peer-image") + 1] == "mysql:1-amd64"
    assert command[command.index("--mysqlbuild-peer-arch") + 1] == "x86_64"
    assert "--mysqlbuild-peer-image" not in pytest_command(tmp_path, image="i", arch="x86_64", packages={})


def test_the_peer_is_the_same_version_and_base_for_the_other_architecture(tmp_path):
    (t,) = pipeline(tmp_path, {}).targets()
    peer = peer_target(t)
    assert (t.image_tag, peer.image_tag) == ("mysql:5.7.44-arm64", "mysql:5.7.44-amd64")
    assert (peer.version, peer.base, peer.arch.rpm) == (t.version, t.base, "x86_64")


def test_the_plan_says_whether_the_migration_tests_run(tmp_path):
    missing = verify_lines(pipeline(tmp_path, {}))["arm64"][-1]
    assert missing == ("data migration to and from mysql:5.7.44-amd64: not run, no such image "
                       "(build it: invoke build --arch amd64; then verify runs again)")
    present = verify_lines(pipeline(tmp_path, {"mysql:5.7.44-amd64": "sha256:a"}))["arm64"][-1]
    assert present == "data migration to and from mysql:5.7.44-amd64 (amd64): runs, the image exists"
    both = verify_lines(pipeline(tmp_path, {}, arch="amd64,arm64"))
    assert "not run, no such image" in both["amd64"][-1]
    assert both["arm64"][-1].endswith("runs, built earlier in this run")


def test_verify_runs_again_when_the_peer_appears_changes_or_goes(tmp_path):
    images = {"mysql:5.7.44-arm64": "sha256:arm"}
    p = pipeline(tmp_path, images)
    (t,) = p.targets()
    recorded = {"image_id": "sha256:arm", "peer_image_id": None}
    assert STAGE.current(p.ctx, t, recorded) == (True, "image unchanged")
    images["mysql:5.7.44-amd64"] = "sha256:amd"
    current, reason = STAGE.current(p.ctx, t, recorded)
    assert not current and reason == "mysql:5.7.44-amd64 appeared or changed: the migration tests run with it"
    assert STAGE.current(p.ctx, t, {**recorded, "peer_image_id": "sha256:amd"})[0]
    assert not STAGE.current(p.ctx, t, {**recorded, "peer_image_id": "sha256:old"})[0]
    del images["mysql:5.7.44-amd64"]
    assert STAGE.current(p.ctx, t, {**recorded, "peer_image_id": "sha256:amd"}) == \
        (False, "mysql:5.7.44-amd64 is gone: verify runs without the migration tests")
