"""Invoke tasks: parse options and call the library (mysqlbuild/cli.py).

Settings come from invoke.yaml (section `mysqlbuild`), overridden by
MYSQLBUILD_* environment variables, overridden by these flags.  An option
named like a setting has the help that mysqlbuild/settings.py declares for
it; a task writes help only for its other options, and for an option that
means something else in it.
"""
import inspect

import invoke

from mysqlbuild import cli
from mysqlbuild.errors import ConfigError
from mysqlbuild.recipe import DEBIAN_MIRROR
from mysqlbuild.settings import SETTINGS, option_help

# The only one-letter flags, the same letter in every task that has the option; all other options are
# long only. (Invoke's automatic short flags take each option's first free letter: -y for --dry-run,
# -u for --builder, and even "--" for --rpm-without.)
SHORT_FLAGS = {"arch": "a", "version": "v", "dry_run": "n", "force": "f", "jobs": "j"}


class Task(invoke.Task):
    """An Invoke task whose short flags are exactly SHORT_FLAGS (for the options it has), and whose options
    named like settings have the settings' help unless `help` gives them another."""

    def __init__(self, body, help=None, **kwargs):
        options = list(inspect.signature(body).parameters)[1:]
        help = {**{name: option_help(name) for name in options if name in SETTINGS}, **(help or {})}
        super().__init__(body, help=help, **kwargs)
        self.auto_shortflags = False

    def arg_opts(self, name, default, taken_names):
        opts = super().arg_opts(name, default, taken_names)
        if name in SHORT_FLAGS:
            opts["names"].append(SHORT_FLAGS[name])
        return opts


def task(*args, **kwargs):
    """invoke.task, making a Task of this module."""
    return invoke.task(*args, klass=Task, **kwargs)


def _required(task_name, option, value, example):
    """The value of an option the task cannot do without.  Such a value is an option, not a positional
    argument: Invoke gives a missing positional argument the next word, even --help (pyinvoke/invoke#982),
    so `invoke load --help` would have loaded an archive named "--help" instead of showing the help."""
    if not value:
        flag = "--" + option.replace("_", "-")
        raise invoke.Exit(ConfigError(f"invoke {task_name} needs {flag}",
                                      hint=f"e.g. invoke {task_name} {flag} {example}; "
                                           f"all its options: invoke {task_name} --help").render(), code=1)
    return value


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
    return task(run)


build = _stage_task("build", "Every stage: base, fetch, toolchain (cross mode), builder, rpms, image, verify, save.")
fetch = _stage_task("fetch", "Download the recipe's sources into the cache, checksums verified.")
toolchain = _stage_task("toolchain", "Make cross mode's host toolchain image (clang, lld, llvm), if it is missing.")
builder = _stage_task("builder", "Build the builder image: the base plus the recipe's build requirements.")
rpms = _stage_task("rpms", "Compile the RPMs into rpmbuild/RPMS/<arch>, and check them.")
image = _stage_task("image", "Build the runtime image from the RPMs.")
verify = _stage_task("verify", "Check the image's architecture and packages, and run the recipe's image tests.")
save = _stage_task("save", "Write dist/<name>-<version>-<arch>.tar.gz (docker save) and its .sha256.")


@task(help={"selection": option_help("mtr_selection"), "suite": option_help("mtr_suite"),
            "tests": option_help("mtr_tests"), "jobs": "parallel mysql-test-run workers (default: CPUs)"})
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
            "mirror_url": f"Debian mirror for --debootstrap (default: {DEBIAN_MIRROR})",
            "include": "extra packages for --debootstrap, comma list",
            "variant": "debootstrap variant (default minbase)",
            "force": "remake the recipe's local base images even when present"})
def base(c, rootfs=None, debootstrap=None, tag=None, mirror_url=None, include=None, variant="minbase", arch=None,
         recipe=None, base=None, force=False, dry_run=False):
    """Make a base image with no registry: from a root filesystem, by debootstrap, or the recipe's own."""
    cli.guarded(cli.make_base)(c, rootfs, debootstrap, tag, mirror_url, include, variant, arch=arch,
                               recipe=recipe, base=base, force=force, dry_run=dry_run)


@task(help={"archive": "the .tar.gz written by invoke save (its .sha256 must lie beside it); required",
            "dry_run": "only check the checksum"})
def load(c, archive=None, docker_host=None, dry_run=False):
    """Load an image archive into Docker, after checking its sha256."""
    cli.guarded(cli.load)(c, _required("load", "archive", archive, "dist/mysql-5.7.44-arm64.tar.gz"),
                          docker_host=docker_host, dry_run=dry_run)


@task
def doctor(c, arch=None, recipe=None, version=None, base=None, mode=None, docker_host=None, builder=None):
    """Check this machine: Docker, BuildKit, emulation of the target, the build mode of each target, disk, tools."""
    cli.guarded(cli.doctor)(c, arch=arch, recipe=recipe, version=version, base=base, mode=mode,
                            docker_host=docker_host, builder=builder)


@task(help={"sources": "also remove the version's downloaded sources",
            "images": "also remove the builder and runtime images", "dry_run": "list what would go"})
def clean(c, recipe=None, version=None, arch=None, base=None, sources=False, images=False, dry_run=False):
    """Remove a target's build folder, its RPMs (when they are this build's) and its archive."""
    cli.guarded(cli.clean)(c, sources, images, recipe=recipe, version=version, arch=arch, base=base,
                           dry_run=dry_run)


@task(help={"arch": "architectures to push (default amd64,arm64: one manifest list over both)",
            "registry": "HOST[:PORT][/PATH] of the registry (Harbor and the like); required",
            "insecure": "the registry speaks plain http (the engine must list it in insecure-registries)"})
def push(c, registry=None, insecure=False, recipe=None, version=None, arch=None, base=None, docker_host=None,
         builder=None, dry_run=False):
    """Push the per-arch images and a multi-arch manifest list to a private registry."""
    cli.guarded(cli.push)(c, _required("push", "registry", registry, "harbor.intranet:8443/dba"), insecure,
                          recipe=recipe, version=version, arch=arch or "amd64,arm64", base=base,
                          docker_host=docker_host, builder=builder, dry_run=dry_run)


@task
def repo(c, recipe=None, version=None, arch=None, base=None, gpg_key=None, repo_dir=None, repo_url=None,
         dry_run=False):
    """Add the checked RPMs to a yum/dnf repository (<repo_dir>/<recipe>/<arch>/), signed with --gpg-key, with its
    .repo file."""
    cli.guarded(cli.repo)(c, recipe=recipe, version=version, arch=arch, base=base, gpg_key=gpg_key,
                          repo_dir=repo_dir, repo_url=repo_url, dry_run=dry_run)


@task
def bundle(c, recipe=None, version=None, arch=None, base=None, mode=None, docker_host=None, builder=None, mirror=None,
           dry_run=False, with_docker=False, docker_tarball=None, docker_version=None, docker_data_root=None,
           docker_storage_driver=None, docker_log_max_size=None, docker_log_max_file=None,
           docker_registry_mirrors=None, docker_insecure_registries=None, docker_daemon_extra=None, gpg_key=None):
    """One offline bundle per arch for intranet hosts: image archive, the RPMs as a yum repository, install.sh,
    manifest, checksums; with --with-docker also a Docker engine for hosts that have none; signed with --gpg-key."""
    cli.guarded(cli.bundle)(c, recipe=recipe, version=version, arch=arch, base=base, mode=mode,
                            docker_host=docker_host,
                            builder=builder, mirror=mirror, dry_run=dry_run, with_docker=with_docker,
                            docker_tarball=docker_tarball, docker_version=docker_version,
                            docker_data_root=docker_data_root, docker_storage_driver=docker_storage_driver,
                            docker_log_max_size=docker_log_max_size, docker_log_max_file=docker_log_max_file,
                            docker_registry_mirrors=docker_registry_mirrors,
                            docker_insecure_registries=docker_insecure_registries,
                            docker_daemon_extra=docker_daemon_extra, gpg_key=gpg_key)
