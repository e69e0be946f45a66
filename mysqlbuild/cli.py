"""What each Invoke task does, behind `tasks.py`: settings in, pipeline calls, messages out."""
from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from . import ROOT, archive, baseimage
from .archs import parse_archs
from .doctor import format_checks, mode_checks, run_checks
from .errors import ConfigError, Interrupted, PipelineError
from .pipeline import Pipeline
from .progress import make_reporter
from .recipe import DEBIAN_MIRROR, Debootstrap
from .settings import SETTINGS, resolve
from .sources import cache_path
from .stages.rpms import rpm_digests
from .state import State


def guarded(func: Callable) -> Callable:
    """Expected failures become one message and an exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any):
        from invoke.exceptions import Exit

        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            raise Exit(exc.render(), code=exc.exit_code) from None
        except KeyboardInterrupt:
            exc = Interrupted()
            raise Exit(exc.render(), code=exc.exit_code) from None
        except BrokenPipeError:
            # The reader went away (`invoke build --dry-run | head`): stop quietly, as other tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise Exit(code=141) from None

    return wrapper


def settings_from(ctx: Any, **flags: Any):
    section = ctx.config.get("mysqlbuild", {}) if ctx is not None else {}
    config = {key: section[key] for key in section} if section else {}
    # A switch a task leaves off (False, its default) was not given: invoke.yaml or the environment may set it.
    flags = {k: (None if v is False and k in SETTINGS and SETTINGS[k].default is False else v)
             for k, v in flags.items()}
    return resolve(config, os.environ, flags)


def _pipeline(settings) -> Pipeline:
    return Pipeline(settings, make_reporter(settings.progress))


def stage(ctx: Any, last: str, **flags: Any) -> None:
    settings = settings_from(ctx, **flags)
    pipeline = _pipeline(settings)
    if settings.dry_run:
        print(pipeline.format_plan(pipeline.plan(last, settings.force)))
        print("dry run: nothing was run")
        return
    targets = pipeline.run(last, settings.force)
    for t in targets:
        lines = [f"{t.label}:"]
        if last in ("rpms", "image", "verify", "save", "build", "mtr"):
            lines.append(f"  RPMs:    {t.rpm_out}")
        if last in ("image", "verify", "save", "build"):
            lines.append(f"  image:   {t.image_tag}")
        if last in ("save", "build"):
            lines.append(f"  archive: {t.archive_path} (+ .sha256)")
        if last in ("verify", "build"):
            lines.append("  verify:  passed")
        if last == "mtr":
            lines.append(f"  tests:   {t.log_dir / 'mtr'} (summary.txt, junit.xml)")
        print("\n".join(lines))


def make_base(ctx: Any, rootfs: str | None, debootstrap: str | None, tag: str | None, mirror_url: str | None,
              include: str | None, variant: str, **flags: Any) -> None:
    settings = settings_from(ctx, **flags)
    reporter = make_reporter(settings.progress)
    pipeline = Pipeline(settings, reporter)
    work = settings.path(ROOT, "build_dir") / "bases"
    if rootfs and debootstrap:
        raise ConfigError("give either --rootfs or --debootstrap, not both")
    if rootfs or debootstrap:
        archs = parse_archs(settings.arch)
        if len(archs) != 1:
            raise ConfigError("invoke base makes one image at a time", "pass a single --arch")
        arch = archs[0]
        if not tag:
            raise ConfigError("--tag is needed: the name of the image to make",
                              "e.g. --tag kylin:v10-arm64, then name it as builder/runtime of a base in the recipe")
        if settings.dry_run:
            print(f"would make {tag} for {arch.docker} from " + (rootfs or f"debootstrap {debootstrap}"))
            return
        if rootfs:
            image_id = baseimage.from_rootfs(pipeline.engine, reporter, Path(rootfs), tag, arch, work)
        else:
            spec = Debootstrap(suite=debootstrap, mirror=mirror_url or DEBIAN_MIRROR,
                               variant=variant, include=tuple(filter(None, (include or "").split(","))))
            image_id = baseimage.debootstrap(pipeline.engine, reporter, spec, tag, arch, work)
        print(f"{tag}: {image_id} ({arch.docker})")
        return
    # No source given: make the recipe's own local bases (those declared with debootstrap).
    stage(ctx, "base", **flags)


def load(ctx: Any, path: str, **flags: Any) -> None:
    settings = settings_from(ctx, **flags)
    pipeline = _pipeline(settings)
    if settings.dry_run:
        archive.verify(Path(path))
        print(f"{path}: checksum ok; would load it")
        return
    tags = archive.load(pipeline.engine, pipeline.reporter, Path(path))
    print("loaded: " + ", ".join(tags))


def doctor(ctx: Any, **flags: Any) -> None:
    settings = settings_from(ctx, **flags)
    pipeline = _pipeline(settings)
    checks = run_checks(pipeline.engine, settings.path(ROOT, "cache_dir"), parse_archs(settings.arch))
    checks += mode_checks(pipeline.targets)
    print(format_checks(checks))
    failed = [c for c in checks if not c.ok and c.required]
    if failed:
        raise PipelineError(f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}",
                            "apply the fixes shown above, then run invoke doctor again")
    print("this machine can run the pipeline")


def clean(ctx: Any, sources: bool, images: bool, **flags: Any) -> None:
    settings = settings_from(ctx, **flags)
    pipeline = _pipeline(settings)
    doomed: list[Path] = []
    refs: list[str] = []
    for t in pipeline.targets():
        record = State(t.state_path).get("rpms")
        if record and rpm_digests(t.rpm_out) == record.get("output", {}).get("rpms"):
            doomed.append(t.rpm_out)
        doomed += [t.build_dir, t.archive_path, archive.checksum_path(t.archive_path)]
        if sources:
            doomed += [cache_path(t.cache_dir, s).parent for s in (*t.sources, *t.downloads)]
        if images:
            refs += [t.image_tag, t.builder_tag]
    doomed = [p for p in dict.fromkeys(doomed) if p.exists()]
    for path in doomed:
        print(("would remove " if settings.dry_run else "removing ") + str(path))
        if not settings.dry_run:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for ref in dict.fromkeys(refs):
        if pipeline.engine.image_id(ref):
            print(("would remove image " if settings.dry_run else "removing image ") + ref)
            if not settings.dry_run:
                pipeline.engine.remove_image(ref)
    if not doomed and not refs:
        print("nothing to clean")


def push(ctx: Any, registry: str, insecure: bool, **flags: Any) -> None:
    from .delivery import push as push_images

    settings = settings_from(ctx, **flags)
    pipeline = _pipeline(settings)
    if settings.dry_run:
        for t in pipeline.targets():
            print(f"would push {t.image_tag} to {registry}")
        print("and a manifest list over them; dry run: nothing was run")
        return
    for ref in push_images(pipeline, registry, insecure):
        print(f"pushed: {ref}")


def bundle(ctx: Any, **flags: Any) -> None:
    from . import hostdocker, rpmrepo, signing
    from .delivery import bundle_name, make_bundle

    settings = settings_from(ctx, **flags)
    pipeline = _pipeline(settings)
    targets = pipeline.targets()
    with_docker = hostdocker.wanted(settings)
    if settings.dry_run:
        print(pipeline.format_plan(pipeline.plan("build")))
        for t in targets:
            print(f"then: {t.archive_path.parent / bundle_name(t)}.tar.gz")
            if with_docker:
                print(hostdocker.describe(settings, ROOT, t.arch), end="")
        print(f"signed with the key {settings.gpg_key!r}" if settings.gpg_key else "UNSIGNED: no gpg_key given")
        print("dry run: nothing was run")
        return
    # The Docker tarball and the key are checked first (the key signs a test file): a wrong file or a key
    # that cannot sign fails now, not after a long build.
    kits = {t.arch: hostdocker.prepare(settings, ROOT, t.arch, pipeline.reporter) for t in targets} \
        if with_docker else {}
    rpmrepo.require_tools(signed=bool(settings.gpg_key))
    key = signing.find_key(settings.gpg_key) if settings.gpg_key else None
    warn_about(pipeline.reporter, key)
    for t in pipeline.run("build"):
        made = make_bundle(pipeline, t, kits.get(t.arch), key)
        print(f"bundle: {made} (+ .sha256" + (", .asc: its signature)" if key else ")"))


def repo(ctx: Any, **flags: Any) -> None:
    from . import rpmrepo, signing

    settings = settings_from(ctx, **flags)
    pipeline = _pipeline(settings)
    targets = pipeline.targets()
    rpms: list[rpmrepo.CheckedRpm] = []
    for t in targets:
        record = State(t.state_path).get("rpms")
        current, why = pipeline.output_current("rpms", t, record or {}) if record else (False, "never built")
        if not current:
            raise PipelineError(f"{t.label}: no RPMs that passed the checks in {t.rpm_out} ({why}); only those go "
                                "into the repository",
                                f"build them: invoke rpms --arch {t.arch.docker} --version {t.version.version}")
        rpms += rpmrepo.checked_rpms(t.rpm_out, t.arch.rpm, record["output"])
    recipe = targets[0].recipe
    folder = settings.path(ROOT, "repo_dir") / recipe.name
    url = rpmrepo.normalize_url(settings.repo_url, folder)
    if settings.dry_run:
        print(f"would add to the repository {folder} (baseurl {url}/$basearch/):")
        print("\n".join(f"  {r.arch}: {r.name} {r.evr} ({r.path})" for r in rpms))
        print(f"signed with the key {settings.gpg_key!r}" if settings.gpg_key else "UNSIGNED: no gpg_key given")
        print("dry run: nothing was run")
        return
    # The tools, then the key (it signs a test file): either missing fails before anything is written.
    rpmrepo.require_tools(signed=bool(settings.gpg_key))
    key = signing.find_key(settings.gpg_key) if settings.gpg_key else None
    warn_about(pipeline.reporter, key)
    made = rpmrepo.make_repository(folder, rid=rpmrepo.repo_id(recipe.name), title=recipe.summary, rpms=rpms,
                                   key=key, url=url)
    print(describe_repository(made))


def warn_about(reporter: Any, key: Any) -> None:
    """What a user must know about the key, or about having none."""
    if key is None:
        reporter.warn("UNSIGNED: no gpg_key given (--gpg-key KEY): nothing will show the hosts that these "
                      "packages come from your build; the .repo file says so and turns gpgcheck off")
    elif not key.rpm_compatible:
        reporter.warn(f"the key {key.describe()} is not RSA or DSA: rpm on EL7 (4.11) cannot verify its "
                      "signatures; an RSA key works on every host")


def describe_repository(made: Any) -> str:
    lines = [f"repository: {made.folder} (baseurl {made.url}/$basearch/)"]
    for entry in made.packages:
        lines.append(f"  {entry['arch']}/Packages/{entry['file']}: {entry['name']} {entry['evr']}")
    lines += [f"  left out (deleted from the folder): {name}" for name in made.dropped]
    if made.key is not None:
        lines.append(f"signed with {made.key.describe()}: {len(made.signed)} RPM(s) signed now, each one's header "
                     "and payload byte for byte as checked; repodata/repomd.xml.asc in each arch")
        lines.append(f"public key: {made.key_file} (gpgkey= of the .repo file; give it to the hosts' admins)")
    else:
        lines.append("UNSIGNED: gpgcheck=0 and repo_gpgcheck=0 in the .repo file")
    lines.append(f".repo file: {made.repo_file} (copy it into /etc/yum.repos.d/ on the hosts)")
    return "\n".join(lines)
