"""Getting the output to where it runs: a private registry, or an offline bundle.

push:   per-arch images to REGISTRY/PATH/<name>:<version>-<arch>, then a
        manifest list REGISTRY/PATH/<name>:<version> over the architectures
        (`docker manifest`, which Docker 18.09+ clients have); the pushes and
        the manifest commands are the Engine's (engine.py), the order and the
        check of the list are here.
bundle: one folder, packed as a .tar.gz, for an intranet host: the image
        archive, the RPMs as a yum repository (rpmrepo.py), install.sh,
        manifest.json and SHA256SUMS over all of them, and with --with-docker
        a Docker engine for hosts that have none (hostdocker/: the pinned
        static tarball, our systemd units, a daemon.json).  install.sh checks
        every checksum before it touches anything.  With a GPG key
        (signing.py) the RPMs and the repository metadata are signed, and so
        are SHA256SUMS (SHA256SUMS.asc: install.sh --key checks it before it
        reads anything else) and the .tar.gz (.tar.gz.asc: for gpg --verify
        before unpacking).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from . import archive, git_revision, hostdocker, rpmrepo, signing
from .errors import CheckError, CommandError, ConfigError, PipelineError
from .hostdocker import DELIVERY_DIR
from .sources import copy_or_link, sha256_file
from .state import State

if TYPE_CHECKING:
    from .engine import Engine
    from .pipeline import Pipeline
    from .target import Target

# RPMs go in this order when rpm installs them one by one (yum/dnf sort it out themselves).
RPM_ORDER = ("common", "libs", "libs-compat", "client", "server", "server-minimal", "devel")
# Where install.sh --rpms puts a bundle's repository on the host, as <HOST_REPO_ROOT>/<recipe>.
HOST_REPO_ROOT = "/var/lib/mysqlbuild-repo"


# --- push ---------------------------------------------------------------------------

def registry_ref(registry: str, name: str, tag: str) -> str:
    registry = registry.strip().rstrip("/")
    if not registry or "://" in registry or " " in registry:
        raise ConfigError(f"--registry {registry!r} is not HOST[:PORT][/PATH]",
                          "e.g. --registry harbor.intranet:8443/dba or --registry 127.0.0.1:5000")
    return f"{registry}/{name.split('/')[-1]}:{tag}"


def push(pipeline: "Pipeline", registry: str, insecure: bool) -> list[str]:

    targets = pipeline.targets()
    reporter, engine = pipeline.reporter, pipeline.engine
    pushed: list[str] = []
    version = targets[0].version.version
    name = targets[0].recipe.image.name
    for t in targets:
        if engine.image_id(t.image_tag) is None:
            raise PipelineError(f"image {t.image_tag} is not here",
                                f"build it (invoke build --arch {t.arch.docker}) or load its archive (invoke load)")
        if not pipeline.output_current("verify", t, State(t.state_path).get("verify") or {})[0]:
            reporter.warn(f"{t.image_tag} has not passed `invoke verify` in its current form")
        ref = registry_ref(registry, name, f"{version}-{t.arch.docker}")
        with reporter.step(f"push {t.image_tag} as {ref}"):
            engine.tag(t.image_tag, ref)
            try:
                engine.push(ref)
            except PipelineError:
                engine.remove_image(ref)  # only the name we added; the image stays
                raise
        pushed.append(ref)
    lst = registry_ref(registry, name, version)
    with reporter.step(f"manifest list {lst} over {', '.join(t.arch.docker for t in targets)}"):
        engine.manifest_create(lst, pushed, insecure=insecure)
        engine.manifest_push(lst, insecure=insecure)
        listed = manifest_platforms(engine, lst, insecure)
        missing = {t.arch.docker for t in targets} - set(listed)
        if missing:
            raise CheckError(f"manifest list {lst} lacks {', '.join(sorted(missing))} (has {', '.join(listed)})")
        reporter.note(f"{lst}: {', '.join(sorted(listed))}")
    return [*pushed, lst]


def manifest_platforms(engine: "Engine", ref: str, insecure: bool) -> list[str]:
    """The architectures the manifest list `ref` in the registry names."""
    listed = engine.manifest_inspect(ref, insecure=insecure)
    try:
        data = json.loads(listed.stdout)
        return [m["platform"]["architecture"] for m in data.get("manifests", [])]
    except (ValueError, TypeError, KeyError, AttributeError):
        raise CommandError(f"docker manifest inspect {ref} printed no manifest list",
                           command=listed.command.display(), exit_code=0, log_tail=listed.stdout[-3000:],
                           hint="the registry may not keep manifest lists; push again, or read it with "
                                "docker manifest inspect") from None


# --- bundle -------------------------------------------------------------------------

def bundle_name(t: "Target") -> str:
    return f"{t.recipe.image.name.replace('/', '_')}-{t.version.version}-{t.arch.docker}-bundle"


def _rpm_sort_key(package: str) -> tuple[int, str]:
    for index, suffix in enumerate(RPM_ORDER):
        if package.endswith("-" + suffix):
            return (index, package)
    return (len(RPM_ORDER), package)


def builder_description(pipeline: "Pipeline") -> dict:
    engine = pipeline.engine
    info: dict = {"host": platform.node(), "host_arch": platform.machine(), "docker_client": engine.client.path,
                  "buildkit": "buildx" if engine.client.buildx else "built-in (DOCKER_BUILDKIT=1)"}
    try:
        info["docker_engine"] = engine.version().get("Version")
    except PipelineError:
        info["docker_engine"] = "unknown"
    if engine.builder:
        info["buildx_builder"] = engine.builder
    if engine.docker_host:
        info["docker_host"] = engine.docker_host
    return info


def seal(folder: Path, key: "signing.SigningKey | None") -> None:
    """SHA256SUMS over every file of a bundle folder, and with `key` its signature SHA256SUMS.asc (what
    install.sh --key checks before it reads anything else)."""
    listed = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in ("SHA256SUMS", "SHA256SUMS.asc"))
    lines = [f"{sha256_file(path)}  {path.relative_to(folder)}" for path in listed]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    if key is not None:
        signing.detach_sign(key, folder / "SHA256SUMS")


def make_bundle(pipeline: "Pipeline", t: "Target", docker: "hostdocker.DockerKit | None" = None,
                key: "signing.SigningKey | None" = None) -> Path:
    """dist/<name>-<version>-<arch>-bundle.tar.gz (+ .sha256); returns its path.

    With `docker` (made by hostdocker.prepare for this target's architecture)
    the bundle also carries a Docker engine under docker/.  With `key` (found by
    signing.find_key) the RPMs, the repository, SHA256SUMS and the .tar.gz are signed."""
    if docker is not None and docker.arch != t.arch:
        raise PipelineError(f"the Docker kit is for {docker.arch.rpm}, the bundle for {t.arch.rpm}")

    state = State(t.state_path)
    # The same checks a rerun of the pipeline trusts: the RPMs and the archive are this build's.
    for stage, hint in (("rpms", "build them: invoke build"), ("save", "write it: invoke save (or invoke build)")):
        current, why = pipeline.output_current(stage, t, state.get(stage) or {})
        if not current:
            raise PipelineError(f"{t.label}: the {stage} stage's output is not current ({why})", hint)
    rpms_record = state.get("rpms")["output"]
    save_record = state.get("save")["output"]
    image_id = save_record["image_id"]

    dist = t.archive_path.parent
    name = bundle_name(t)
    work = dist / f".{name}.part"
    shutil.rmtree(work, ignore_errors=True)
    folder = work / name
    (folder / "image").mkdir(parents=True)
    rid = rpmrepo.repo_id(t.recipe.name)
    try:
        copy_or_link(t.archive_path, folder / "image" / t.archive_path.name)
        packages = rpms_record["packages"]
        order = sorted(packages, key=_rpm_sort_key)
        # The repository is made beside the folder (its lock and staging stay out of the bundle).
        made = rpmrepo.make_repository(work / "repo", rid=rid, title=t.recipe.summary,
                                       rpms=rpmrepo.checked_rpms(t.rpm_out, t.arch.rpm, rpms_record), key=key,
                                       url=f"file://{HOST_REPO_ROOT}/{t.recipe.name}")
        os.replace(work / "repo", folder / "repo")
        in_repo = {entry["file"]: entry for entry in made.packages}
        shutil.copy2(DELIVERY_DIR / "install.sh", folder / "install.sh")
        os.chmod(folder / "install.sh", 0o755)
        run_line = t.recipe.image.run_example.replace("{tag}", t.image_tag)
        values = {"IMAGE_TAG": t.image_tag, "IMAGE_ID": image_id, "IMAGE_ARCHIVE": f"image/{t.archive_path.name}",
                  "IMAGE_ARCH": t.arch.docker, "RPM_ARCH": t.arch.rpm,
                  "RPM_FILES": " ".join(f"repo/{t.arch.rpm}/Packages/{packages[p]['file']}" for p in order),
                  "RUN_EXAMPLE": run_line, "REPO_ID": rid, "REPO_DIR": f"{HOST_REPO_ROOT}/{t.recipe.name}",
                  "REPO_KEY": made.key_file.name if made.key_file else "",
                  "HOST_PACKAGES": " ".join(t.recipe.host.packages or order), "HOST_START": t.recipe.host.start,
                  **hostdocker.NO_DOCKER_ENV}
        docker_manifest = None
        if docker is not None:
            docker_env, docker_manifest = hostdocker.add_to_bundle(docker, folder, copy_or_link)
            values.update(docker_env)
        (folder / "bundle.env").write_text("# Read by install.sh. Generated by mysqlbuild (invoke bundle).\n"
                                           + "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()))
        manifest = {
            "recipe": t.recipe.name, "version": t.version.version, "release": t.version.release,
            "base": t.base.name, "arch": t.arch.docker, "rpm_arch": t.arch.rpm,
            "sources": {s.file: s.sha256 for s in t.sources},
            "rpms": {packages[p]["file"]: {"name": p, "evr": packages[p]["evr"],
                                           "sha256": rpms_record["rpms"][packages[p]["file"]],
                                           "body_sha256": in_repo[packages[p]["file"]]["body_sha256"],
                                           "in_repo": f"repo/{t.arch.rpm}/Packages/{packages[p]['file']}",
                                           "in_repo_sha256": in_repo[packages[p]["file"]]["sha256"]}
                     for p in order},
            "signed_by": {"fingerprint": key.fingerprint, "uid": key.uid} if key else None,
            "image": {"tag": t.image_tag, "id": image_id, "architecture": pipeline.engine.image_arch(t.image_tag),
                      "archive": f"image/{t.archive_path.name}", "archive_sha256": save_record["sha256"]},
            "built": (state.get("image") or {}).get("finished"),
            "bundled": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "revision": git_revision(pipeline.root),
            "builder": builder_description(pipeline),
            "docker": docker_manifest,
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        seal(folder, key)
        packed = dist / f".{name}.tar.gz.part"
        with tarfile.open(packed, "w:gz", compresslevel=1) as tar:
            tar.add(folder, arcname=name)
        target = dist / f"{name}.tar.gz"
        signature = target.with_name(target.name + ".asc")
        if key is not None:
            # Signed under the part's name, then both renamed: a signature never stands beside another file.
            os.replace(signing.detach_sign(key, packed), dist / f".{name}.tar.gz.asc.part")
        signature.unlink(missing_ok=True)
        os.replace(packed, target)
        if key is not None:
            os.replace(dist / f".{name}.tar.gz.asc.part", signature)
        archive.write_checksum(target, sha256_file(target))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for part in (f".{name}.tar.gz.part", f".{name}.tar.gz.part.asc", f".{name}.tar.gz.asc.part"):
            (dist / part).unlink(missing_ok=True)
    pipeline.reporter.note(f"{target}: {target.stat().st_size / 2**20:.1f} MiB, {len(packages)} RPM(s) in a yum "
                           "repository, " + f"image {t.image_tag}" + (f", Docker {docker.version}" if docker else "")
                           + (f"; signed with {key.describe()} ({signature.name}, SHA256SUMS.asc)" if key else
                              "; UNSIGNED"))
    return target

