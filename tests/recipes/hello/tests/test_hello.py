"""Image tests of the hello fixture, run by `invoke verify` with testinfra."""


def test_binary_runs_and_reports_the_target_machine(image_host, arch):
    out = image_host.check_output("hello")
    assert out.startswith("hello from mysqlbuild fixture")
    assert out.endswith(f" on {arch}")


def test_uname_in_the_container_is_the_target(image_host, arch):
    assert image_host.check_output("uname -m") == arch


def test_packages_have_the_built_versions(image_host, expected_packages):
    assert expected_packages, "verify must pass the expected packages"
    for name, evr in expected_packages.items():
        assert image_host.check_output(f"rpm -q --qf '%{{VERSION}}-%{{RELEASE}}' {name}") == evr


def test_default_command_prints_the_greeting(run_container, arch):
    container = run_container()
    assert container.wait(timeout=120) == 0
    assert container.logs().strip().endswith(f"on {arch}")


def test_the_configure_probe_and_the_generator_ran_for_the_target(image_host, arch):
    # cmake's try_run probe and the build-time generator ran as programs of the target (natively or
    # through QEMU), cmake knew the target's processor, and the base's zlib was linked.
    out = image_host.check_output("hello --build-info")
    assert out.startswith(f"configured on {arch}, generated on {arch}, cmake processor {arch}, zlib ")
    assert out.endswith(", table ok")
