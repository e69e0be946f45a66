"""Each setting is declared once (mysqlbuild/settings.py); invoke.yaml, the README's table and the tasks' help
say what the declaration says, and fail here when they do not."""
from __future__ import annotations

import dataclasses
import importlib.util

import pytest
import yaml
from fixtures import ROOT
from invoke import Collection

from mysqlbuild import cli
from mysqlbuild.errors import ConfigError
from mysqlbuild.recipe import ATOMICS
from mysqlbuild.settings import (SETTINGS, Settings, option_help, readme_with_table, render_invoke_yaml,
                                 render_readme_table, resolve)
from mysqlbuild.sources import RETRIES, Fetcher

REWRITE = "run .venv/bin/python -m mysqlbuild.settings to write it from the declaration"

# Options that mean something else in one task than the setting of their name, with the task's own help.
OWN_MEANINGS = {("base", "force"), ("clean", "dry_run"), ("load", "dry_run"), ("mtr", "jobs"), ("push", "arch")}
# Options named otherwise than the setting they set.
RENAMED = {("mtr", "selection"): "mtr_selection", ("mtr", "suite"): "mtr_suite", ("mtr", "tests"): "mtr_tests"}


def project_tasks() -> dict:
    spec = importlib.util.spec_from_file_location("project_tasks_for_settings", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Collection.from_module(module).tasks


def test_invoke_yaml_is_written_from_the_declaration():
    assert (ROOT / "invoke.yaml").read_text() == render_invoke_yaml(), f"invoke.yaml differs: {REWRITE}"


def test_invoke_yaml_holds_every_kept_setting_at_its_default():
    section = yaml.safe_load((ROOT / "invoke.yaml").read_text())["mysqlbuild"]
    assert list(section) == [name for name, s in SETTINGS.items() if not s.per_run]
    assert resolve(section, {}, {}) == Settings()


def test_the_readme_table_is_written_from_the_declaration():
    readme = (ROOT / "README.md").read_text()
    assert render_readme_table() in readme, f"README.md's settings table differs: {REWRITE}"
    assert readme_with_table(readme) == readme


def test_a_readme_that_disagrees_is_caught():
    readme = (ROOT / "README.md").read_text()
    changed = readme.replace("| `retries` | `MYSQLBUILD_RETRIES` | `4` |", "| `retries` | `MYSQLBUILD_RETRIES` | `3` |")
    assert changed != readme
    assert render_readme_table() not in changed and readme_with_table(changed) == readme
    with pytest.raises(ConfigError) as info:
        readme_with_table("# a README without the table\n")
    assert "lacks the settings table's markers" in info.value.message


def test_the_newest_settings_are_everywhere():
    build_help = project_tasks()["build"].help
    for name in ("toolchain", "atomics"):
        assert f"\n  {name}: " in (ROOT / "invoke.yaml").read_text()
        assert f"| `{name}` | `MYSQLBUILD_{name.upper()}` |" in (ROOT / "README.md").read_text()
        assert build_help[name] == option_help(name)


def test_every_setting_is_declared_whole():
    for name, s in SETTINGS.items():
        assert s.help and s.help == s.help.strip(), name
        assert isinstance(s.default, s.type), name
        assert s.env == "MYSQLBUILD_" + name.upper()
        if s.choices:
            assert s.default in s.choices or s.default == "", name
    assert [f.name for f in dataclasses.fields(Settings)] == list(SETTINGS)


def test_the_choices_are_the_allowed_values():
    assert tuple(SETTINGS["atomics"].choices) == ATOMICS
    assert tuple(SETTINGS["mode"].choices) == ("auto", "native", "cross", "emulate")
    assert tuple(SETTINGS["progress"].choices) == ("auto", "tty", "plain")
    for name, s in SETTINGS.items():
        for value in s.choices:
            assert getattr(resolve({}, {s.env: value}, {}), name) == value


@pytest.mark.parametrize("env,message,hint", [
    ({"MYSQLBUILD_MODE": "fast"}, "mode must be one of auto, native, cross, emulate, found 'fast'",
     "auto picks native, cross or emulate per target"),
    ({"MYSQLBUILD_ATOMICS": "fast"}, "atomics must be one of dispatch, lse, llsc, found 'fast'",
     "dispatch: LSE where the CPU has it, chosen at run time; lse: ARMv8.1 and later only"),
    ({"MYSQLBUILD_PROGRESS": "fancy"}, "progress must be auto, tty or plain, found 'fancy'", "tty: bars"),
])
def test_a_refused_value_names_the_choices_and_what_they_mean(env, message, hint):
    with pytest.raises(ConfigError) as info:
        resolve({}, env, {})
    assert info.value.message == message and hint in info.value.hint


def test_the_retries_default_is_the_fetchers():
    assert Settings().retries == RETRIES == Fetcher.retries


def test_every_option_named_like_a_setting_has_its_help():
    seen = set()
    for task_name, task in project_tasks().items():
        for option, text in task.help.items():
            setting = RENAMED.get((task_name, option), option)
            if setting not in SETTINGS:
                continue
            seen.add(setting)
            if (task_name, option) in OWN_MEANINGS:
                assert text != option_help(setting), (task_name, option, "no own meaning: drop it from OWN_MEANINGS")
            else:
                assert text == option_help(setting), (task_name, option)
    assert {"toolchain", "atomics", "mode", "mtr_selection", "with_docker", "docker_daemon_extra"} <= seen


def test_the_help_names_the_default_and_the_choices():
    assert option_help("recipe").endswith("(default: mysql57)")
    assert option_help("retries").endswith(f"(default: {RETRIES})")
    assert option_help("version").endswith("(default: the recipe's default_version)")
    assert "dispatch (LSE where the CPU has it, chosen at run time), lse (ARMv8.1 and later only) or llsc" \
        in option_help("atomics")
    assert option_help("force") == "redo the stage even when its key and output are unchanged"
    assert "default" not in option_help("mirror")


def test_a_switch_left_off_by_a_task_leaves_the_environment_its_say(monkeypatch):
    monkeypatch.setenv("MYSQLBUILD_FORCE", "1")
    monkeypatch.setenv("MYSQLBUILD_WITH_DOCKER", "yes")
    settings = cli.settings_from(None, force=False, dry_run=False, with_docker=False)
    assert settings.force and settings.with_docker and not settings.dry_run
