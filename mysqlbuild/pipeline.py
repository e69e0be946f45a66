"""The stage graph: what each stage takes, its key, its output, and the plan.

    base ─► builder ─► rpms ─► image ─► verify
    fetch ───────────►  ┘         └───► save

A stage's key is the sha256 of everything that goes into it, upstream keys
included (never timestamps or paths of this machine).  A stage whose key is
the recorded one and whose output is still there is skipped; ``--force``
redoes it.  When a stage runs, the records of the stages after it are
dropped, so they run again on the new output.  Outputs are made beside the
old ones and swapped in only when they passed their checks.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import archive, base as basemod, rpmcheck
from .archs import Arch, parse_archs
from .engine import BuildRequest, Engine
from .errors import CheckError, CommandError, ConfigError, EngineError, PipelineError
from .progress import Reporter
from .recipe import Base, Recipe, Version, load_recipe
from .render import render
from .settings import Settings
from .sources import Fetcher, cache_path, candidate_urls, copy_or_link, sha256_file

STAGES = ("base", "fetch", "builder", "rpms", "image", "verify", "save")
UPSTREAM = {
    "base": (),
    "fetch": (),
    "builder": ("base",),
    "rpms": ("builder", "fetch"),
    "image": ("rpms", "base"),
    "verify": ("image",),
    "save": ("image",),
}
ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT / "dockerfiles" / "build-rpms.sh"


def digest_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def digest_file(path: Path) -> str:
    return sha256_file(path)


def digest_tree(folder: Path) -> str:
    items = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            items.append((str(path.relative_to(folder)), sha256_file(path)))
    return digest_json(items)


def downstream(stage: str) -> list[str]:
    out: list[str] = []
    for other in STAGES:
        if other == stage:
            continue
        todo = list(UPSTREAM[other])
        while todo:
            item = todo.pop()
            if item == stage:
                out.append(other)
                break
            todo.extend(UPSTREAM[item])
    return out


def stages_for(last: str) -> list[str]:
    """The stages a task runs: `last` and everything it needs."""
    needed = {last}
    todo = [last]
    while todo:
        for item in UPSTREAM[todo.pop()]:
            if item not in needed:
                needed.add(item)
                todo.append(item)
    return [s for s in STAGES if s in needed]


def git_revision(root: Path = ROOT) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        return proc.stdout.strip() if proc.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


@dataclass(frozen=True)
class Target:
    """One build: a recipe version on one base for one architecture."""

    recipe: Recipe
    version: Version
    base: Base
    arch: Arch
    settings: Settings
    root: Path
    conditionals: tuple[tuple[str, bool], ...]

    @property
    def label(self) -> str:
        return f"{self.recipe.name} {self.version.version} ({self.base.name}, {self.arch.docker})"

    @property
    def build_dir(self) -> Path:
        return (self.settings.path(self.root, "build_dir") / self.recipe.name / self.version.version
                / f"{self.base.name}-{self.arch.docker}")

    @property
    def log_dir(self) -> Path:
        return self.build_dir / "logs"

    @property
    def state_path(self) -> Path:
        return self.build_dir / "state.json"

    @property
    def cache_dir(self) -> Path:
        return self.settings.path(self.root, "cache_dir")

    @property
    def rpm_out(self) -> Path:
        return self.settings.path(self.root, "rpm_dir") / self.arch.rpm

    @property
    def image_tag(self) -> str:
        try:
            return self.settings.image_tag.format(name=self.recipe.image.name, version=self.version.version,
                                                  arch=self.arch.docker, release=self.version.release,
                                                  base=self.base.name, recipe=self.recipe.name)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"image_tag {self.settings.image_tag!r} is not valid ({exc})",
                              "use the fields {name} {version} {arch} {release} {base} {recipe}") from None

    @property
    def builder_tag(self) -> str:
        return f"mysqlbuild-builder/{self.recipe.name}:{self.version.version}-{self.base.name}-{self.arch.docker}"

    @property
    def archive_path(self) -> Path:
        name = self.recipe.image.name.replace("/", "_")
        return self.settings.path(self.root, "dist_dir") / f"{name}-{self.version.version}-{self.arch.docker}.tar.gz"

    @property
    def downloads(self):
        return tuple(d for d in self.recipe.image.downloads if d.arch == self.arch.docker)

    @property
    def sources(self):
        """The version's sources this build uses: those with `when` only when that conditional is on."""
        on = dict(self.conditionals)
        return tuple(s for s in self.version.sources if not s.when or on.get(s.when, False))

    @property
    def local_bases(self) -> list[str]:
        """Base images this pipeline makes itself (debootstrap), builder then runtime."""
        if self.base.debootstrap is None:
            return []
        refs = [self.base.builder_image(self.arch.docker), self.base.runtime_image(self.arch.docker)]
        return list(dict.fromkeys(refs))


# --- state --------------------------------------------------------------------

class State:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.data: dict[str, dict] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            self.data = {}

    def get(self, stage: str) -> dict | None:
        return self.data.get(stage)

    def record(self, stage: str, key: str, output: dict) -> None:
        self.data[stage] = {"key": key, "output": output,
                            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        for other in downstream(stage):
            self.data.pop(other, None)
        self.save()

    def forget(self, stage: str) -> None:
        for other in [stage, *downstream(stage)]:
            self.data.pop(other, None)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(".state.json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)


# --- the plan -----------------------------------------------------------------

@dataclass
class StagePlan:
    stage: str
    key: str
    inputs: dict[str, Any]
    summary: list[str]
    commands: list[str]
    current: bool
    reason: str
    forced: bool = False

    @property
    def will_run(self) -> bool:
        return self.forced or not self.current


@dataclass
class Pipeline:
    settings: Settings
    reporter: Reporter
    root: Path = ROOT
    engine: Engine | None = None
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = Engine(docker=self.settings.docker, builder=self.settings.builder,
                                 docker_host=self.settings.docker_host)

    # -- targets ---------------------------------------------------------------
    def recipe(self) -> Recipe:
        return load_recipe(self.settings.recipe, self.settings.path(self.root, "recipes_dir"))

    def targets(self) -> list[Target]:
        recipe = self.recipe()
        version = recipe.version(self.settings.version or None)
        base = recipe.base(self.settings.base or None)
        overrides: dict[str, bool] = {}
        for text, value in ((self.settings.rpm_with, True), (self.settings.rpm_without, False)):
            for name in filter(None, (n.strip() for n in text.split(","))):
                overrides[name] = value
        conds = tuple(sorted(recipe.conditionals(overrides).items()))
        return [Target(recipe, version, base, arch, self.settings, self.root, conds)
                for arch in parse_archs(self.settings.arch)]

    # -- keys and inputs ---------------------------------------------------------
    def inputs(self, stage: str, t: Target) -> dict[str, Any]:
        if stage == "base":
            boot = t.base.debootstrap
            return {"arch": t.arch.docker, "builder": t.base.builder_image(t.arch.docker),
                    "runtime": t.base.runtime_image(t.arch.docker),
                    "debootstrap": None if boot is None else
                    {"suite": boot.suite, "mirror": boot.mirror, "variant": boot.variant,
                     "include": list(boot.include)}}
        if stage == "fetch":
            return {"sources": [[s.file, s.sha256] for s in t.sources],
                    "downloads": [[d.file, d.sha256] for d in t.downloads]}
        if stage == "builder":
            return {"dockerfile_deps": self.builder_dockerfile(t).split("\nFROM deps AS rpms", 1)[0],
                    "arch": t.arch.docker}
        if stage == "rpms":
            return {"dockerfile": self.builder_dockerfile(t),
                    "build_script": digest_file(BUILD_SCRIPT),
                    "spec": [t.recipe.spec.name, digest_file(t.recipe.spec)],
                    "sources": [[s.file, s.sha256] for s in t.sources],
                    "patches": [[p.file, digest_file(p.path)] for p in t.version.patches],
                    "check_elf_align": t.recipe.rpm.check_elf_align,
                    "forbid_libs": list(t.recipe.rpm.forbid_libs)}
        if stage == "image":
            return {"dockerfile": self.runtime_dockerfile(t),
                    "files": [[f.dest, f.mode, digest_file(f.src)] for f in t.recipe.image.files],
                    "downloads": [[d.dest, d.sha256] for d in t.downloads],
                    "packages": list(t.recipe.image.packages), "tag": t.image_tag}
        if stage == "verify":
            return {"tests": digest_tree(t.recipe.tests) if t.recipe.tests else None,
                    "plugin": digest_file(ROOT / "mysqlbuild" / "testing.py")}
        if stage == "save":
            return {"archive": t.archive_path.name}
        raise ValueError(stage)

    def key(self, stage: str, t: Target) -> str:
        cache_key = (stage, t.label)
        if cache_key not in self._keys:
            upstream = {name: self.key(name, t) for name in UPSTREAM[stage]}
            self._keys[cache_key] = digest_json({"stage": stage, "inputs": self.inputs(stage, t),
                                                 "upstream": upstream})
        return self._keys[cache_key]

    # -- rendering ---------------------------------------------------------------
    def rpmbuild_args(self, t: Target) -> list[str]:
        args = [t.recipe.spec.name, "--define", f"recipe_version {t.version.version}",
                "--define", f"recipe_release {t.version.release}"]
        for name, on in t.conditionals:
            args += ["--with" if on else "--without", name]
        for key, value in t.recipe.rpm.defines:
            args += ["--define", f"{key} {value}"]
        return args

    def builder_dockerfile(self, t: Target) -> str:
        env = {}
        if t.base.family == "apt":
            env["NODEPS"] = "1"
        if t.version.source_date_epoch:
            env["SOURCE_DATE_EPOCH"] = str(t.version.source_date_epoch)
        return render("builder.Dockerfile.j2", {
            "recipe": t.recipe.name, "version": t.version.version, "base": t.base, "arch": t.arch,
            "builder_image": t.base.builder_image(t.arch.docker),
            "cache_prefix": f"mysqlbuild-{t.recipe.name}-{t.base.name}-{t.arch.docker}",
            "rpmbuild_args": self.rpmbuild_args(t), "build_env": env,
        }, self.root / "dockerfiles")

    def image_labels(self, t: Target) -> list[tuple[str, str]]:
        return [
            ("org.opencontainers.image.title", t.recipe.image.name),
            ("org.opencontainers.image.description", t.recipe.summary),
            ("org.opencontainers.image.version", t.version.version),
            ("io.mysqlbuild.recipe", t.recipe.name),
            ("io.mysqlbuild.release", t.version.release),
            ("io.mysqlbuild.base", t.base.name),
            ("io.mysqlbuild.sources.sha256", " ".join(f"{s.file}={s.sha256}" for s in t.sources)),
        ]

    def runtime_files(self, t: Target) -> list[dict[str, str]]:
        files = [{"context_path": f"files/{i}-{f.src.name}", "dest": f.dest, "mode": f.mode, "src": str(f.src)}
                 for i, f in enumerate(t.recipe.image.files)]
        files += [{"context_path": f"downloads/{d.file}", "dest": d.dest, "mode": d.mode,
                   "src": str(cache_path(t.cache_dir, d))} for d in t.downloads]
        return files

    def runtime_dockerfile(self, t: Target) -> str:
        return render("runtime.Dockerfile.j2", {
            "recipe": t.recipe.name, "version": t.version.version, "base": t.base, "arch": t.arch,
            "runtime_image": t.base.runtime_image(t.arch.docker), "tag": t.image_tag, "image": t.recipe.image,
            "files": self.runtime_files(t), "downloads": t.downloads, "labels": self.image_labels(t),
        }, self.root / "dockerfiles")

    # -- what each stage would run -------------------------------------------------
    def _cmd(self, request: BuildRequest) -> str:
        try:
            return self.engine.command(request).display()
        except EngineError:
            # No usable client here: show the built-in BuildKit form.
            from .engine import build_command

            return build_command(self.settings.docker, request, buildx=False,
                                 docker_host=self.settings.docker_host).display()

    def builder_request(self, t: Target, target: str, **extra: Any) -> BuildRequest:
        context = t.build_dir / "builder-context"
        return BuildRequest(dockerfile=context / "Dockerfile", context=context, platform=t.arch.platform,
                            target=target, **extra)

    def runtime_request(self, t: Target, labels: tuple[tuple[str, str], ...] = ()) -> BuildRequest:
        context = t.build_dir / "runtime-context"
        return BuildRequest(dockerfile=context / "Dockerfile", context=context, platform=t.arch.platform,
                            tags=(t.image_tag,), labels=labels)

    def describe(self, stage: str, t: Target) -> tuple[list[str], list[str]]:
        """Human summary of the inputs, and the exact commands, of one stage."""
        if stage == "base":
            if t.base.debootstrap is None:
                return ([f"builder base {t.base.builder_image(t.arch.docker)}, runtime base "
                         f"{t.base.runtime_image(t.arch.docker)}: pulled by BuildKit when first used"], [])
            boot = t.base.debootstrap
            cmds = []
            for ref in t.local_bases:
                include = f" --include={','.join(boot.include)}" if boot.include else ""
                cmds.append(f"debootstrap --variant={boot.variant} --arch={t.arch.docker}{include} "
                            f"{boot.suite} <tmp>/rootfs {boot.mirror}")
                cmds.append(self._cmd(BuildRequest(dockerfile=Path("<tmp>/Dockerfile"), context=Path("<tmp>"),
                                                   platform=t.arch.platform, tags=(ref,))))
            return [f"local base {', '.join(t.local_bases)} made by debootstrap of {boot.suite} "
                    f"({boot.variant}) for {t.arch.docker}, if missing"], cmds
        if stage == "fetch":
            lines = []
            for s in (*t.sources, *t.downloads):
                lines.append(f"{s.file} sha256 {s.sha256}")
                lines.extend(f"  from {u}" for u in candidate_urls(s, self.settings.mirror))
                lines.append(f"  into {cache_path(t.cache_dir, s)}")
            return lines, []
        if stage == "builder":
            reqs = " ".join(t.base.build_requires)
            return ([f"{t.base.family} base {t.base.builder_image(t.arch.docker)} + build requirements: {reqs}",
                     f"builder image {t.builder_tag}"],
                    [self._cmd(self.builder_request(t, "deps", tags=(t.builder_tag,)))])
        if stage == "rpms":
            out = t.rpm_out.parent / f".{t.arch.rpm}.incoming"
            lines = [f"spec {t.recipe.spec.name}, {len(t.sources)} source(s), "
                     f"{len(t.version.patches)} patch(es)",
                     "rpmbuild " + " ".join(self.rpmbuild_args(t)),
                     f"RPMs into {t.rpm_out} (checked: header arch {t.arch.rpm}, rpm -K"
                     + (", 64K LOAD alignment" if t.arch.rpm == "aarch64" and t.recipe.rpm.check_elf_align else "")
                     + (f", no {' '.join(t.recipe.rpm.forbid_libs)}" if t.recipe.rpm.forbid_libs else "") + ")"]
            epoch = t.version.source_date_epoch
            if epoch:
                day = _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%d")
                lines.append(f"SOURCE_DATE_EPOCH {epoch} ({day}): reproducible payloads")
            else:
                lines.append("no source_date_epoch in the recipe: payloads carry the build's dates")
            lines += [f"patch {p.file}: {p.reason}" for p in t.version.patches]
            return lines, [self._cmd(self.builder_request(t, "export", output_dir=out,
                                                          build_args=(("JOBS", str(self.settings.jobs)),)))]
        if stage == "image":
            pkgs = ", ".join(t.recipe.image.packages) or "all built RPMs"
            return ([f"runtime base {t.base.runtime_image(t.arch.docker)} + {pkgs}", f"image {t.image_tag}"],
                    [self._cmd(self.runtime_request(t))])
        if stage == "verify":
            tests = t.recipe.tests
            return ([f"image architecture is {t.arch.docker}; installed package versions match the RPMs",
                     f"testinfra tests: {tests.relative_to(self.root) if tests and tests.is_relative_to(self.root) else tests or '(none)'}"],
                    [f"{sys.executable} -m pytest {tests} -p mysqlbuild.testing --mysqlbuild-image {t.image_tag}"]
                    if tests else [])
        if stage == "save":
            return ([f"{t.archive_path} and {t.archive_path.name}.sha256"],
                    [f"docker save {t.image_tag} | gzip > {t.archive_path}"])
        raise ValueError(stage)

    # -- output checks -------------------------------------------------------------
    def output_current(self, stage: str, t: Target, record: dict) -> tuple[bool, str]:
        out = record.get("output", {})
        if stage == "base":
            missing = [ref for ref in t.local_bases if self.engine.image_id(ref) is None]
            return (not missing, f"missing image {missing[0]}" if missing else "images present")
        if stage == "fetch":
            missing = [s.file for s in (*t.sources, *t.downloads)
                       if not cache_path(t.cache_dir, s).is_file()]
            return (not missing, f"{missing[0]} not in the cache" if missing else "all sources in the cache")
        if stage == "builder":
            current = self.engine.image_id(t.builder_tag)
            return (current == out.get("image_id"), "builder image present" if current else "builder image missing")
        if stage == "rpms":
            have = rpm_digests(t.rpm_out)
            return (have == out.get("rpms"), "RPMs unchanged" if have == out.get("rpms") else
                    f"{t.rpm_out} does not hold this build's RPMs")
        if stage in ("image", "verify"):
            current = self.engine.image_id(t.image_tag)
            return (current == out.get("image_id"), "image unchanged" if current == out.get("image_id") else
                    f"image {t.image_tag} changed or missing")
        if stage == "save":
            path = t.archive_path
            if not path.is_file() or self.engine.image_id(t.image_tag) != out.get("image_id"):
                return False, "archive missing or made from another image"
            try:
                return archive.verify(path) == out.get("sha256"), "archive unchanged"
            except CheckError as exc:
                return False, exc.message
        raise ValueError(stage)

    def plan(self, last: str = "save", force: bool = False, only: tuple[str, ...] = ()) -> list[tuple[Target, list[StagePlan]]]:
        wanted = stages_for(last) if last != "build" else list(STAGES)
        forced = set(wanted if last == "build" else [last]) if force else set()
        if only:
            wanted = [s for s in wanted if s in only]
        result = []
        self._keys = {}  # inputs are read afresh for every plan
        for t in self.targets():
            state = State(t.state_path)
            stages = []
            for stage in wanted:
                key = self.key(stage, t)
                summary, commands = self.describe(stage, t)
                record = state.get(stage)
                if record is None:
                    current, reason = False, "never built"
                elif record.get("key") != key:
                    current, reason = False, "inputs changed"
                else:
                    current, reason = self.output_current(stage, t, record)
                stages.append(StagePlan(stage, key, self.inputs(stage, t), summary, commands, current, reason,
                                        forced=stage in forced))
            result.append((t, stages))
        return result

    def format_plan(self, plan: list[tuple[Target, list[StagePlan]]]) -> str:
        lines = []
        for t, stages in plan:
            lines.append(f"plan for {t.label}: rpm arch {t.arch.rpm}, platform {t.arch.platform}")
            for sp in stages:
                status = "run " if sp.will_run else "skip"
                why = "forced" if sp.forced else sp.reason
                lines.append(f"  [{status}] {sp.stage:<8} key {sp.key[:16]}  ({why})")
                lines.extend(f"           {line}" for line in sp.summary)
                lines.extend(f"           $ {cmd}" for cmd in sp.commands)
        return "\n".join(lines)

    # -- running -----------------------------------------------------------------------
    def run(self, last: str = "build", force: bool = False) -> list[Target]:
        plan = self.plan(last, force)
        # The docker client, and the --builder when one is named, are checked before any stage
        # runs: a wrong builder name must not wait behind a debootstrap under QEMU.
        self.engine.client
        done = []
        for t, stages in plan:
            with self._locked(t), self.reporter.step(f"{t.label}"):
                state = State(t.state_path)
                for sp in stages:
                    # An upstream stage that ran drops this record: look again.
                    record = state.get(sp.stage)
                    if not sp.forced and record is not None and record.get("key") == sp.key:
                        current, _ = self.output_current(sp.stage, t, record)
                        if current:
                            self.reporter.note(f"{sp.stage}: up to date, skipped (key {sp.key[:16]})")
                            continue
                    with self.reporter.step(f"{sp.stage} (key {sp.key[:16]})"):
                        output = getattr(self, f"_run_{sp.stage}")(t, sp)
                    state.record(sp.stage, sp.key, output)
            done.append(t)
        return done

    @contextmanager
    def _locked(self, t: Target) -> Iterator[None]:
        t.build_dir.mkdir(parents=True, exist_ok=True)
        with open(t.build_dir / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PipelineError(f"another build of {t.label} is running (lock {t.build_dir / '.lock'})",
                                    "wait for it to finish, or stop it") from None
            yield

    # -- the stages ------------------------------------------------------------------
    def _run_base(self, t: Target, sp: StagePlan) -> dict:
        ids = {}
        boot = t.base.debootstrap
        for ref in t.local_bases:
            existing = self.engine.image_id(ref)
            if existing and not sp.forced:
                self.reporter.note(f"base image {ref} present")
                ids[ref] = existing
                continue
            assert boot is not None
            ids[ref] = basemod.debootstrap(self.engine, self.reporter, boot, ref, t.arch, t.build_dir / "base")
        if not t.local_bases:
            self.reporter.note(f"{t.base.builder_image(t.arch.docker)}: pulled by BuildKit when first used")
        return {"images": ids}

    def _run_fetch(self, t: Target, sp: StagePlan) -> dict:
        fetcher = Fetcher(t.cache_dir, self.reporter, mirror=self.settings.mirror, retries=self.settings.retries)
        files = fetcher.fetch_all([*t.sources, *t.downloads])
        return {"files": {name: str(path) for name, path in files.items()}}

    def _write_builder_context(self, t: Target) -> Path:
        context = t.build_dir / "builder-context"
        if context.exists():
            shutil.rmtree(context)
        (context / "SPECS").mkdir(parents=True)
        (context / "SOURCES").mkdir()
        (context / "Dockerfile").write_text(self.builder_dockerfile(t))
        shutil.copy2(BUILD_SCRIPT, context / "build-rpms.sh")
        shutil.copy2(t.recipe.spec, context / "SPECS" / t.recipe.spec.name)
        for source in t.sources:
            cached = cache_path(t.cache_dir, source)
            if not cached.is_file():
                raise PipelineError(f"{source.file} is not in the cache", "run `invoke fetch` first")
            copy_or_link(cached, context / "SOURCES" / source.file)
        for patch in t.version.patches:
            shutil.copy2(patch.path, context / "SOURCES" / Path(patch.file).name)
        return context

    def _run_builder(self, t: Target, sp: StagePlan) -> dict:
        self._write_builder_context(t)
        request = self.builder_request(t, "deps", tags=(t.builder_tag,),
                                       build_args=(("FORCE_NONCE", str(time.time_ns())),) if sp.forced else ())
        stream = self.reporter.build("builder image", t.log_dir / "builder.log")
        self.engine.run_build(request, stream, f"building the builder image for {t.label}")
        return {"image_id": self.engine.image_id(t.builder_tag)}

    def _run_rpms(self, t: Target, sp: StagePlan) -> dict:
        self._write_builder_context(t)
        parent = t.rpm_out.parent
        parent.mkdir(parents=True, exist_ok=True)
        incoming = parent / f".{t.arch.rpm}.incoming"
        shutil.rmtree(incoming, ignore_errors=True)
        args = [("JOBS", str(self.settings.jobs))]
        if sp.forced:
            args.append(("FORCE_NONCE", str(time.time_ns())))
        request = self.builder_request(t, "export", output_dir=incoming, build_args=tuple(args))
        stream = self.reporter.build("rpmbuild", t.log_dir / "rpms.log")
        try:
            try:
                self.engine.run_build(request, stream, f"rpmbuild of {t.label}")
            except CommandError as exc:
                self._fetch_failure_log(t, exc)
                raise
            log = incoming / "logs" / "rpmbuild.log"
            if log.is_file():
                shutil.copy2(log, t.log_dir / "rpmbuild.log")
            rpms = sorted(incoming.glob("RPMS/*/*.rpm"))
            with self.reporter.step(f"checking {len(rpms)} RPM(s)"):
                infos = rpmcheck.check_rpms(rpms, t.arch, check_align=t.recipe.rpm.check_elf_align,
                                            forbid_libs=t.recipe.rpm.forbid_libs)
            fresh = parent / f".{t.arch.rpm}.new"
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir()
            for rpm in rpms:
                os.replace(rpm, fresh / rpm.name)
            _swap_dir(fresh, t.rpm_out)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        for info in infos:
            self.reporter.note(f"{info.path.name}: {info.name} {info.evr} {info.arch}")
        return {"rpms": rpm_digests(t.rpm_out),
                "packages": {i.name: {"evr": i.evr, "arch": i.arch, "file": i.path.name} for i in infos}}

    def _fetch_failure_log(self, t: Target, exc: CommandError) -> None:
        """Bring the whole rpmbuild log home from the builder's cache mount."""
        out = t.build_dir / ".failure-log"
        shutil.rmtree(out, ignore_errors=True)
        request = self.builder_request(t, "failure-log-export", output_dir=out,
                                       build_args=(("LOG_NONCE", str(time.time_ns())),))
        stream = self.reporter.build("rpmbuild log", t.log_dir / "failure-log.log")
        try:
            self.engine.run_build(request, stream, "copying the rpmbuild log")
            if (out / "rpmbuild.log").is_file():
                target = t.log_dir / "rpmbuild.log"
                shutil.copy2(out / "rpmbuild.log", target)
                exc.log_path = f"{target} (BuildKit output: {exc.log_path})"
        except PipelineError:
            pass
        finally:
            shutil.rmtree(out, ignore_errors=True)
        exc.hint = (exc.hint or "") + f"; the RPMs of the last good build are still in {t.rpm_out}"

    def _run_image(self, t: Target, sp: StagePlan) -> dict:
        state = State(t.state_path).get("rpms") or {}
        packages = state.get("output", {}).get("packages", {})
        context = t.build_dir / "runtime-context"
        if context.exists():
            shutil.rmtree(context)
        (context / "rpms").mkdir(parents=True)
        wanted = set(t.recipe.image.packages) or set(packages)
        missing = wanted - set(packages)
        if missing:
            raise CheckError(f"the image needs package(s) {', '.join(sorted(missing))}, which the build did not make",
                             f"built packages: {', '.join(sorted(packages))}; fix image.packages in {t.recipe.file}")
        for name in sorted(wanted):
            copy_or_link(t.rpm_out / packages[name]["file"], context / "rpms" / packages[name]["file"])
        for item in self.runtime_files(t):
            copy_or_link(Path(item["src"]), context / item["context_path"])
        (context / "Dockerfile").write_text(self.runtime_dockerfile(t))
        labels = (("org.opencontainers.image.created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")),
                  ("org.opencontainers.image.revision", git_revision(self.root)))
        stream = self.reporter.build("runtime image", t.log_dir / "image.log")
        self.engine.run_build(self.runtime_request(t, labels), stream, f"building image {t.image_tag}")
        arch = self.engine.image_arch(t.image_tag)
        if arch != t.arch.docker:
            raise CheckError(f"image {t.image_tag} has architecture {arch}, not {t.arch.docker}")
        return {"image_id": self.engine.image_id(t.image_tag)}

    def _run_verify(self, t: Target, sp: StagePlan) -> dict:
        from . import verify

        image_id = self.engine.image_id(t.image_tag)
        rpms = (State(t.state_path).get("rpms") or {}).get("output", {}).get("packages", {})
        wanted = set(t.recipe.image.packages) or set(rpms)
        expected = {name: rpms[name]["evr"] for name in wanted if name in rpms}
        verify.verify_image(self.engine, self.reporter, t, expected)
        return {"image_id": image_id}

    def _run_save(self, t: Target, sp: StagePlan) -> dict:
        sha = archive.save(self.engine, self.reporter, t.image_tag, t.archive_path)
        return {"image_id": self.engine.image_id(t.image_tag), "sha256": sha}


def rpm_digests(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {p.name: sha256_file(p) for p in sorted(folder.glob("*.rpm"))}


def _swap_dir(fresh: Path, target: Path) -> None:
    """Put `fresh` where `target` is; the old folder goes only after the new one is in place."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(fresh, target)
    shutil.rmtree(old, ignore_errors=True)
