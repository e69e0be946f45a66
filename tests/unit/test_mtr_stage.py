"""invoke mtr's plan and selection, without Docker: what would run, and the errors that stop it early."""
from __future__ import annotations

import io

import pytest

from fixtures import ROOT, copy_recipe_elsewhere, edit_recipe
from mysqlbuild.engine import ClientInfo, Engine
from mysqlbuild.errors import RecipeError
from mysqlbuild.pipeline import Pipeline
from mysqlbuild.progress import Reporter
from mysqlbuild.recipe import load_recipe
from mysqlbuild.settings import Settings
from mysqlbuild.stages.mtr import mtr_command, selection

MARIADB = ROOT / "tests" / "recipes" / "mariadb"


def pipeline(tmp_path, **changes) -> Pipeline:
    settings = Settings(recipe="mysql57", base="debian11", build_dir=str(tmp_path / "build")).with_(**changes)
    engine = Engine(_client=ClientInfo("/usr/bin/docker", "20.10.24", buildx=False))
    return Pipeline(settings, Reporter(io.StringIO()), engine=engine)


def test_the_mysql_smoke_selection_covers_what_the_issue_names():
    smoke = load_recipe("mysql57").mtr.selections["smoke"]
    assert smoke.suites == ("sys_vars",)
    areas = {name.split(".")[0] for name in smoke.tests}
    assert {"main", "innodb", "binlog", "rpl", "json"} <= areas
    for needed in ("main.ssl", "rpl.rpl_ssl", "main.ctype_utf8mb4", "main.partition", "innodb.crc32_endianness"):
        assert needed in smoke.tests


def test_the_plan_of_mtr_builds_the_rpms_then_tests_under_qemu(tmp_path):
    p = pipeline(tmp_path)
    text = p.format_plan(p.plan("mtr"))
    assert [line.split()[2] for line in text.splitlines() if line.startswith("  [")] == \
        ["base", "fetch", "toolchain", "builder", "rpms", "mtr"]
    assert "linux/arm64 container (under QEMU on this x86_64 host)" in text
    assert "--mysqld=--innodb-use-native-aio=0" in text and "MTR_SUITES=sys_vars" in text
    assert "mtr" not in [line.split()[2] for line in p.format_plan(p.plan("build")).splitlines()
                         if line.startswith("  [")]


def test_natively_no_emulation_option_and_jobs_become_parallel(tmp_path):
    p = pipeline(tmp_path, arch="amd64", jobs=3)
    (t,) = p.targets()
    command = mtr_command(p.ctx, t, selection(p.ctx, t))
    assert command[:3] == ["mysqlbuild-mtr", "main.insert", "main.update"]
    assert "--parallel=3" in command and "--mysqld=--innodb-use-native-aio=0" not in command


def test_suite_and_tests_replace_the_selection(tmp_path):
    p = pipeline(tmp_path, mtr_suite="main, innodb", mtr_tests="rpl.rpl_ssl")
    (t,) = p.targets()
    chosen = selection(p.ctx, t)
    assert (chosen.name, chosen.suites, chosen.tests) == ("custom", ("main", "innodb"), ("rpl.rpl_ssl",))


def test_an_unknown_selection_or_no_mtr_section_is_one_error(tmp_path):
    p = pipeline(tmp_path, mtr_selection="nosuch")
    (t,) = p.targets()
    with pytest.raises(RecipeError) as err:
        selection(p.ctx, t)
    assert "no test selection 'nosuch'" in err.value.message and "smoke, innodb" in err.value.hint
    recipe = copy_recipe_elsewhere(MARIADB, tmp_path / "mariadb")
    edit_recipe(recipe, lambda d: d.pop("mtr"))
    p = pipeline(tmp_path, recipe=str(recipe), base="", arch="amd64")
    (t,) = p.targets()
    with pytest.raises(RecipeError) as err:
        selection(p.ctx, t)
    assert "has no mtr section" in err.value.message


@pytest.mark.parametrize("edit,message", [
    (lambda m: m.update(default_selection="nosuch"), "default_selection: 'nosuch' is not one of the selections"),
    (lambda m: m["known_failures"][0].update(when="sometimes"), "'sometimes' is not one of always, emulated"),
    (lambda m: m["known_failures"][0].update(test="nodot"), "'nodot' is not suite.test"),
    (lambda m: m["selections"]["fixture"].pop("suites"), "must list suites, tests or both"),
    (lambda m: m.update(requires={"pacman": ["perl"]}), "'pacman' is not a package family"),
])
def test_the_mtr_section_is_validated(tmp_path, edit, message):
    recipe = copy_recipe_elsewhere(MARIADB, tmp_path / "mariadb")
    edit_recipe(recipe, lambda d: edit(d["mtr"]))
    with pytest.raises(RecipeError) as err:
        load_recipe(str(recipe))
    assert message in err.value.message
