"""Settings layering, and rendering with StrictUndefined."""
from __future__ import annotations

import pytest

from mysqlbuild.errors import ConfigError
from mysqlbuild.render import RenderError, render
from mysqlbuild.settings import Settings, resolve


def test_flags_override_environment_override_invoke_yaml():
    config = {"arch": "amd64", "mirror": "http://yaml/", "jobs": 2}
    env = {"MYSQLBUILD_MIRROR": "file:///env/", "MYSQLBUILD_JOBS": "3"}
    s = resolve(config, env, {})
    assert (s.arch, s.mirror, s.jobs) == ("amd64", "file:///env/", 3)
    s = resolve(config, env, {"mirror": "https://flag/", "jobs": None})
    assert (s.mirror, s.jobs) == ("https://flag/", 3)
    assert resolve({}, {}, {}) == Settings()


@pytest.mark.parametrize("config,env,flags,message", [
    ({"colour": "blue"}, {}, {}, "unknown setting mysqlbuild.colour"),
    ({}, {"MYSQLBUILD_JOBS": "many"}, {}, "MYSQLBUILD_JOBS: jobs must be an integer"),
    ({}, {"MYSQLBUILD_FORCE": "perhaps"}, {}, "force must be true or false"),
    ({}, {}, {"jobs": "-1"}, "must not be negative"),
    ({}, {"MYSQLBUILD_MIRROR": "ftp://x/"}, {}, "is not an http://, https:// or file:// URL"),
    ({"progress": "fancy"}, {}, {}, "progress must be auto, tty or plain"),
])
def test_bad_settings_say_where_they_came_from(config, env, flags, message):
    with pytest.raises(ConfigError) as info:
        resolve(config, env, flags)
    assert message in info.value.message


def test_rendering_fills_variables(tmp_path):
    (tmp_path / "t.j2").write_text("FROM {{ image }}\nRUN echo {{ words | shquote }}\n")
    assert render("t.j2", {"image": "debian", "words": "a b"}, tmp_path) == "FROM debian\nRUN echo 'a b'\n"


def test_a_missing_variable_is_an_error_not_an_empty_string(tmp_path):
    (tmp_path / "t.j2").write_text("FROM {{ image }}\nRUN {{ command }}\n")
    with pytest.raises(RenderError) as info:
        render("t.j2", {"image": "debian"}, tmp_path)
    assert "'command' is undefined" in info.value.message


def test_a_missing_attribute_is_an_error_too(tmp_path):
    (tmp_path / "t.j2").write_text("{{ base.family }}\n")
    with pytest.raises(RenderError):
        render("t.j2", {"base": {}}, tmp_path)
