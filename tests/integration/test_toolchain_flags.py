"""The one filter between a base's GCC build flags and the host toolchain's clang (dockerfiles/toolchain-flags.sh).

It runs in the toolchain image, on this host's architecture, with the real clang the builds use, on the
flag strings of the distributions whose bases the recipes name, as `rpm --eval` prints them on aarch64:
EL7 (redhat-rpm-config 9.1), EL8 (with the hardening and annobin spec files) and openEuler 22.03
(openEuler-rpm-config's generic hardening spec files), each %{optflags} followed by %{build_ldflags}.
"""
from __future__ import annotations

import pytest

from conftest import invoke
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
def drops(engine, hello_work):
    """Run the filter on a flag string; returns {dropped option: clang's words}."""
    if engine.image_id(TOOLCHAIN) is None:
        made = invoke("toolchain", "--arch", "arm64", env=hello_work["env"])
        assert made.code == 0, made.text[-3000:]

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
