"""The host toolchain's own scripts, on the real toolchain image.

The one filter between a base's GCC build flags and clang (dockerfiles/toolchain-flags.sh) runs in the
toolchain image, on this host's architecture, with the real clang the builds use, on the flag strings of
the distributions whose bases the recipes name, as `rpm --eval` prints them on aarch64: EL7
(redhat-rpm-config 9.1), EL8 (with the hardening and annobin spec files) and openEuler 22.03
(openEuler-rpm-config's generic hardening spec files), each %{optflags} followed by %{build_ldflags}.

The setup (dockerfiles/toolchain-setup.sh) runs in an arm64 base without GCC, as a base missing a build
requirement would: it stops at once, naming what is missing and the requirement that provides it.
"""
from __future__ import annotations

import subprocess

import pytest

from conftest import ARM_BASE, invoke
from fixtures import ROOT

pytestmark = [pytest.mark.docker]
TOOLCHAIN = "mysqlbuild/toolchain:clang-16-amd64"

EL7 = ("-O2 -g -pipe -Wall -Wp,-D_FORTIFY_SOURCE=2 -fexceptions -fstack-protector-strong "
       "--param=ssp-buffer-size=4 -grecord-gcc-switches -Wl,-z,relro")
EL8 = ("-O2 -g -pipe -Wall -Werror=format-security -Wp,-D_FORTIFY_SOURCE=2 -Wp,-D_GLIBCXX_ASSERTIONS -fexceptions "
       "-fstack-protector-strong -grecord-gcc-switches -specs=/usr/lib/rpm/redhat/redhat-hardened-cc1 "
       "-specs=/usr/lib/rpm/redhat/redhat-annobin-cc1 -mbranch-protection=standard -fasynchronous-unwind-tables "
       "-fstack-clash-protection -Wl,-z,relro -Wl,-z,now -specs=/usr/lib/rpm/redhat/redhat-hardened-ld")
OPENEULER = ("-O2 -g -pipe -Wall -Werror=format-security -Wp,-D_FORTIFY_SOURCE=2 -Wp,-D_GLIBCXX_ASSERTIONS "
             "-fstack-protector-strong -grecord-gcc-switches -specs=/usr/lib/rpm/generic-hardened-cc1 "
             "-fasynchronous-unwind-tables -fstack-clash-protection -Wl,-z,relro -Wl,-z,now "
             "-specs=/usr/lib/rpm/generic-hardened-ld")


@pytest.fixture(scope="module")
def toolchain_image(engine, hello_work):
    if engine.image_id(TOOLCHAIN) is None:
        made = invoke("toolchain", "--arch", "arm64", env=hello_work["env"])
        assert made.code == 0, made.text[-3000:]
    return TOOLCHAIN


@pytest.fixture(scope="module")
def drops(engine, toolchain_image):
    """Run the filter on a flag string; returns {dropped option: clang's words}."""

    def run(flags: str) -> dict[str, str]:
        out = engine.sdk.containers.run(
            TOOLCHAIN, ["sh", "/scripts/toolchain-flags.sh", "/opt/mysqlbuild/toolchain/bin/clang",
                        "aarch64-linux-gnu", *flags.split()],
            volumes={str(ROOT / "dockerfiles"): {"bind": "/scripts", "mode": "ro"}}, remove=True).decode()
        return dict(line.split("\t", 1) for line in out.splitlines() if line)
    return run


def test_el7_flags_are_all_clang_flags(drops):
    assert drops(EL7) == {}


def test_el8_drops_the_gcc_spec_files_and_stack_clash_protection_and_keeps_the_rest(drops):
    dropped = drops(EL8)
    assert set(dropped) == {"-specs=/usr/lib/rpm/redhat/redhat-hardened-cc1",
                            "-specs=/usr/lib/rpm/redhat/redhat-annobin-cc1",
                            "-specs=/usr/lib/rpm/redhat/redhat-hardened-ld", "-fstack-clash-protection"}
    assert all("argument unused during compilation" in why for why in dropped.values()), dropped


def test_openeuler_drops_its_generic_spec_files_and_stack_clash_protection(drops):
    assert set(drops(OPENEULER)) == {"-specs=/usr/lib/rpm/generic-hardened-cc1",
                                     "-specs=/usr/lib/rpm/generic-hardened-ld", "-fstack-clash-protection"}


def test_gcc_plugins_and_other_targets_options_are_dropped_with_clangs_reason(drops):
    dropped = drops("-fplugin=annobin -fcf-protection -O2")
    assert set(dropped) == {"-fplugin=annobin", "-fcf-protection"}
    assert "annobin" in dropped["-fplugin=annobin"]
    assert "cannot be specified on this target" in dropped["-fcf-protection"]


def test_setup_in_a_base_without_gcc_stops_at_once_naming_the_requirement(engine, toolchain_image, hello_work,
                                                                          tmp_path):
    if engine.image_id(ARM_BASE) is None:
        made = invoke("base", "--arch", "arm64", env=hello_work["env"])
        assert made.code == 0, made.text[-3000:]
    # The toolchain folder, mounted as the rpms stage mounts it (BuildKit's bind mount of the image).
    engine.copy_out(toolchain_image, "/opt/mysqlbuild/toolchain", tmp_path)
    proc = subprocess.run(
        ["docker", "run", "--rm", "--platform", "linux/arm64",
         "-v", f"{tmp_path / 'toolchain'}:/opt/mysqlbuild/toolchain:ro", "-v", f"{ROOT / 'dockerfiles'}:/scripts:ro",
         ARM_BASE, "sh", "/scripts/toolchain-setup.sh", "/opt/mysqlbuild/toolchain", "aarch64-linux-gnu", "/tmp/tc"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("mysqlbuild toolchain: no GCC installation in this builder image (no crtbegin.o and libgcc.a under "
            "/usr/lib/gcc): add gcc (and g++ or gcc-c++ for C++) to the base's build_requires") in proc.stderr
