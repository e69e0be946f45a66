"""Invoke tasks: parse options and call the library (mysqlbuild/cli.py).

Settings come from invoke.yaml (section `mysqlbuild`), overridden by
MYSQLBUILD_* environment variables, overridden by these flags.
"""
import invoke

from mysqlbuild import cli
from mysqlbuild.errors import ConfigError

# The only one-letter flags, the same letter in every task that has the option; all other options are
# long only. (Invoke's automatic short flags take each option's first free letter: -y for --dry-run,
# -u for --builder, and even "--" for --rpm-without.)
SHORT_FLAGS = {"arch": "a", "version": "v", "dry_run": "n", "force": "f", "jobs": "j"}


class Task(invoke.Task):
    """An Invoke task whose short flags are exactly SHORT_FLAGS (for the options it has)."""

    def __init__(self, body, **kwargs):
        super().__init__(body, **kwargs)
        self.auto_shortflags = False

    def arg_opts(self, name, default, taken_names):
        opts = super().arg_opts(name, default, taken_names)
        if name in SHORT_FLAGS:
            opts["names"].append(SHORT_FLAGS[name])
        return opts


def task(*args, **kwargs):
    """invoke.task, making a Task of this module."""
    return invoke.task(*args, klass=Task, **kwargs)


def _positional(task_name, what, value):
    """Invoke gives a task's missing positional argument the next word, even --help (pyinvoke/invoke#982):
    `invoke load --help` would load an archive named "--help". Refuse such a value, and say where help is."""
    if value.startswith("-"):
        raise invoke.Exit(ConfigError(f"{value!r} was taken as the {what}: Invoke reads the word after "
                                      f"`invoke {task_name}` as the {what}, even an option",
                                      hint=f"for this task's help: invoke --help {task_name}").render(), code=1)
    return value


COMMON_HELP = {
    "recipe": "recipe name under recipes/, or a path to a recipe folder (default: mysql57)",
    "version": "version from the recipe (default: the recipe's default_version)",
    "arch": "target architecture: arm64 (default), amd64, or a comma list amd64,arm64",
    "base": "builder/runtime base declared in the recipe (default: the recipe's default_base)",
    "jobs": "parallel compile jobs (default: CPUs, capped at one job per 2 GB of memory)",
    "mirror": "http(s):// or file:// folder holding the sources by name, tried first (intranet)",
    "rpm_with": "rpm conditionals to switch on, comma list (e.g. debug,embedded)",
    "rpm_without": "rpm conditionals to switch off, comma list",
    "docker_host": "run everything on another Docker engine (DOCKER_HOST form: tcp://, ssh://, unix://)",
    "builder": "an existing buildx builder to compile on (remote BuildKit, kubernetes, native arm64 nodes)",
    "force": "redo the stage even when its key and output are unchanged",
    "dry_run": "print the plan (inputs, keys, exact docker commands) and run nothing",
    "mode": "how to compile a foreign architecture: auto (default: native if the host matches, else cross), "
            "native, cross (the host toolchain's clang runs natively in the target's builder; make, cmake and "
            "rpmbuild under QEMU) or emulate (everything under QEMU, hours)",
    "toolchain": "cross mode's host toolchain: clang-16 (default) or a newer clang-N of Debian 12",
    "atomics": "aarch64 atomics for this build: dispatch (LSE chosen at run time), lse (ARMv8.1+ only) or "
               "llsc (default: the recipe's codegen.atomics)",
}


def _stage_task(last, doc):
    def run(c, recipe=None, version=None, arch=None, base=None, mode=None, toolchain=None, atomics=None, jobs=None,
            mirror=None, rpm_with=None, rpm_without=None, docker_host=None, builder=None, force=False,
            dry_run=False):
        cli.guarded(cli.stage)(c, last, recipe=recipe, version=version, arch=arch, base=base, mode=mode,
                               toolchain=toolchain, atomics=atomics, jobs=jobs, mirror=mirror, rpm_with=rpm_with,
                               rpm_without=rpm_without, docker_host=docker_host, builder=builder, force=force,
                               dry_run=dry_run)

    run.__doc__ = doc
    run.__name__ = last
    return task(help=COMMON_HELP)(run)


build = _stage_task("build", "Every stage: base, fetch, toolchain (cross mode), builder, rpms, image, verify, save.")
fetch = _stage_task("fetch", "Download the recipe's sources into the cache, checksums verified.")
toolchain = _stage_task("toolchain", "Make cross mode's host toolchain image (clang, lld, llvm), if it is missing.")
builder = _stage_task("builder", "Build the builder image: the base plus the recipe's build requirements.")
rpms = _stage_task("rpms", "Compile the RPMs into rpmbuild/RPMS/<arch>, and check them.")
image = _stage_task("image", "Build the runtime image from the RPMs.")
verify = _stage_task("verify", "Check the image's architecture and packages, and run the recipe's image tests.")
save = _stage_task("save", "Write dist/<name>-<version>-<arch>.tar.gz (docker save) and its .sha256.")


@task(help={**COMMON_HELP,
            "selection": "a test selection named in the recipe's mtr section (default: its default_selection)",
            "suite": "whole suites to run instead, comma list (e.g. main,innodb)",
            "tests": "single tests to run instead, comma list of suite.test (with --suite: both)",
            "jobs": "parallel mysql-test-run workers (default: CPUs)"})
def mtr(c, recipe=None, version=None, arch=None, base=None, mode=None, toolchain=None, atomics=None, jobs=None,
        mirror=None, rpm_with=None, rpm_without=None, docker_host=None, builder=None, force=False, dry_run=False,
        selection=None, suite=None, tests=None):
    """Run MySQL's own test suite (mysql-test-run.pl) on the built RPMs, in a container of the target's arch."""
    cli.guarded(cli.stage)(c, "mtr", recipe=recipe, version=version, arch=arch, base=base, mode=mode,
                           toolchain=toolchain, atomics=atomics, jobs=jobs,
                           mirror=mirror, rpm_with=rpm_with, rpm_without=rpm_without, docker_host=docker_host,
                           builder=builder, force=force, dry_run=dry_run, mtr_selection=selection,
                           mtr_suite=suite, mtr_tests=tests)


@task(help={"rootfs": "a root filesystem, as a tarball or a folder (e.g. a Kylin V10 system)",
            "debootstrap": "make the root filesystem by debootstrap of this Debian suite (e.g. bookworm)",
            "tag": "name of the image to make (with --rootfs or --debootstrap)",
            "mirror_url": "Debian mirror for --debootstrap",
            "include": "extra packages for --debootstrap, comma list",
            "variant": "debootstrap variant (default minbase)",
            "arch": COMMON_HELP["arch"], "recipe": COMMON_HELP["recipe"], "base": COMMON_HELP["base"],
            "force": "remake the recipe's local base images even when present",
            "dry_run": COMMON_HELP["dry_run"]})
def base(c, rootfs=None, debootstrap=None, tag=None, mirror_url=None, include=None, variant="minbase", arch=None,
         recipe=None, base=None, force=False, dry_run=False):
    """Make a base image with no registry: from a root filesystem, by debootstrap, or the recipe's own."""
    cli.guarded(cli.make_base)(c, rootfs, debootstrap, tag, mirror_url, include, variant, arch=arch,
                               recipe=recipe, base=base, force=force, dry_run=dry_run)


@task(help={"path": "the .tar.gz written by invoke save (its .sha256 must lie beside it)",
            "docker_host": COMMON_HELP["docker_host"], "dry_run": "only check the checksum"})
def load(c, path, docker_host=None, dry_run=False):
    """Load an image archive into Docker, after checking its sha256."""
    cli.guarded(cli.load)(c, _positional("load", "archive path", path), docker_host=docker_host, dry_run=dry_run)


@task(help={k: COMMON_HELP[k] for k in ("arch", "recipe", "version", "base", "mode", "docker_host", "builder")})
def doctor(c, arch=None, recipe=None, version=None, base=None, mode=None, docker_host=None, builder=None):
    """Check this machine: Docker, BuildKit, emulation of the target, the build mode of each target, disk, tools."""
    cli.guarded(cli.doctor)(c, arch=arch, recipe=recipe, version=version, base=base, mode=mode,
                            docker_host=docker_host, builder=builder)


@task(help={"recipe": COMMON_HELP["recipe"], "version": COMMON_HELP["version"], "arch": COMMON_HELP["arch"],
            "base": COMMON_HELP["base"], "sources": "also remove the version's downloaded sources",
            "images": "also remove the builder and runtime images", "dry_run": "list what would go"})
def clean(c, recipe=None, version=None, arch=None, base=None, sources=False, images=False, dry_run=False):
    """Remove a target's build folder, its RPMs (when they are this build's) and its archive."""
    cli.guarded(cli.clean)(c, sources, images, recipe=recipe, version=version, arch=arch, base=base,
                           dry_run=dry_run)


@task(help={**{k: COMMON_HELP[k] for k in ("recipe", "version", "base", "docker_host", "builder", "dry_run")},
            "arch": "architectures to push (default amd64,arm64: one manifest list over both)",
            "registry": "HOST[:PORT][/PATH] of the registry (Harbor and the like)",
            "insecure": "the registry speaks plain http (the engine must list it in insecure-registries)"})
def push(c, registry, insecure=False, recipe=None, version=None, arch=None, base=None, docker_host=None,
         builder=None, dry_run=False):
    """Push the per-arch images and a multi-arch manifest list to a private registry."""
    cli.guarded(cli.push)(c, _positional("push", "registry", registry), insecure, recipe=recipe, version=version,
                          arch=arch or "amd64,arm64", base=base, docker_host=docker_host, builder=builder,
                          dry_run=dry_run)


DOCKER_HELP = {
    "with_docker": "carry a Docker engine for hosts without one: Docker's static tarball (pinned in "
                   "delivery/docker-static.yaml), systemd units and a daemon.json",
    "docker_tarball": "the static tarball docker-<version>.tgz you downloaded (or a folder holding it, or "
                      "<arch>/ subfolders); implies --with-docker. Else it is looked for in the cache and fetched",
    "docker_version": "Docker version from the pin file (default: its default_version)",
    "docker_data_root": "daemon.json data-root: where images, containers and volumes live (default /var/lib/docker)",
    "docker_storage_driver": "daemon.json storage-driver: overlay2, fuse-overlayfs, btrfs, zfs or vfs "
                             "(default: dockerd chooses)",
    "docker_log_max_size": "container log rotation: size of one log file (default 100m)",
    "docker_log_max_file": "container log rotation: files kept (default 3)",
    "docker_registry_mirrors": "daemon.json registry-mirrors, comma list of http(s):// URLs",
    "docker_insecure_registries": "daemon.json insecure-registries, comma list of HOST[:PORT] (plain-http registries)",
    "docker_daemon_extra": "further daemon.json keys as a JSON object, e.g. '{\"live-restore\": true}'",
}


@task(help={**{k: COMMON_HELP[k] for k in ("recipe", "version", "arch", "base", "mode", "docker_host", "builder",
                                           "mirror", "dry_run")}, **DOCKER_HELP})
def bundle(c, recipe=None, version=None, arch=None, base=None, mode=None, docker_host=None, builder=None, mirror=None,
           dry_run=False, with_docker=False, docker_tarball=None, docker_version=None, docker_data_root=None,
           docker_storage_driver=None, docker_log_max_size=None, docker_log_max_file=None,
           docker_registry_mirrors=None, docker_insecure_registries=None, docker_daemon_extra=None):
    """One offline bundle per arch for intranet hosts: image archive, RPMs, install.sh, manifest, checksums;
    with --with-docker also a Docker engine for hosts that have none."""
    cli.guarded(cli.bundle)(c, recipe=recipe, version=version, arch=arch, base=base, mode=mode,
                            docker_host=docker_host,
                            builder=builder, mirror=mirror, dry_run=dry_run, with_docker=with_docker,
                            docker_tarball=docker_tarball, docker_version=docker_version,
                            docker_data_root=docker_data_root, docker_storage_driver=docker_storage_driver,
                            docker_log_max_size=docker_log_max_size, docker_log_max_file=docker_log_max_file,
                            docker_registry_mirrors=docker_registry_mirrors,
                            docker_insecure_registries=docker_insecure_registries,
                            docker_daemon_extra=docker_daemon_extra)
