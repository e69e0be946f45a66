"""`invoke doctor`: is this machine able to run the pipeline, and if not, what to do."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .archs import ARCHS, Arch, host_arch
from .engine import Engine, find_client
from .errors import PipelineError
from .proc import INSTALL
from .toolchain import toolchain_for

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
NEEDED_FREE_GIB = 20  # a MySQL build: ~5 GB tree, ccache, builder and runtime images, archives


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def arch_runnable(arch: Arch, binfmt_dir: Path = BINFMT_DIR) -> tuple[bool, str]:
    """Can programs (and containers) of `arch` run here: natively, or QEMU registered in binfmt_misc?"""
    if host_arch() == arch:
        return True, "native"
    if not (binfmt_dir / "status").exists():
        return False, f"binfmt_misc is not mounted at {binfmt_dir}"
    entry = binfmt_dir / f"qemu-{arch.rpm}"
    if not entry.exists():
        return False, f"no qemu-{arch.rpm} entry in {binfmt_dir}"
    text = entry.read_text()
    if not text.startswith("enabled"):
        return False, f"qemu-{arch.rpm} is registered but disabled"
    interpreter = flags = ""
    for line in text.splitlines():
        if line.startswith("interpreter "):
            interpreter = line.split(" ", 1)[1]
        if line.startswith("flags:"):
            flags = line.split(":", 1)[1].strip()
    if "F" not in flags:
        return False, (f"qemu-{arch.rpm} is registered without the F flag ({interpreter}), so containers "
                       "cannot find the emulator")
    return True, f"QEMU emulation ({interpreter}, flags {flags})"


def register_fix(arch: Arch) -> str:
    return ("apt-get install qemu-user-static binfmt-support && "
            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null; "
            f"update-binfmts --enable qemu-{arch.rpm}   (or, with a registry: "
            f"docker run --privileged --rm tonistiigi/binfmt --install {arch.docker})")


def _free(path: Path) -> tuple[Path, float]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe, shutil.disk_usage(probe).free / 2**30


def run_checks(engine: Engine, cache_dir: Path, targets: list[Arch] | None = None) -> list[Check]:
    checks: list[Check] = []
    try:
        client = find_client(engine.docker)
        kind = "buildx plugin" if client.buildx else "built into the client (DOCKER_BUILDKIT=1)"
        checks.append(Check("docker client", True, f"{client.path} {client.version}"))
        checks.append(Check("BuildKit", True, kind))
    except PipelineError as exc:
        checks.append(Check("docker client / BuildKit", False, exc.message, exc.hint or ""))
    if engine.builder:
        try:
            engine.client            # checks the builder with docker buildx inspect
            checks.append(Check("buildx builder", True, engine.builder))
        except PipelineError as exc:
            checks.append(Check("buildx builder", False, exc.message, exc.hint or ""))
    data_root = None
    try:
        version = engine.version()
        info = engine.info()
        data_root = info.get("DockerRootDir")
        checks.append(Check("Docker engine", True,
                            f"{version.get('Version')} (API {version.get('ApiVersion')}), "
                            f"{info.get('OSType')}/{info.get('Architecture')}"))
    except PipelineError as exc:
        checks.append(Check("Docker engine", False, exc.message, exc.hint or ""))
    native = host_arch()
    checks.append(Check("host architecture", native is not None,
                        native.docker + f" ({native.rpm})" if native else "unsupported",
                        "run on an x86_64 or aarch64 host"))
    for arch in targets or [ARCHS["arm64"]]:
        ok, detail = arch_runnable(arch)
        checks.append(Check(f"can run linux/{arch.docker}", ok, detail, "" if ok else register_fix(arch)))
    for name, path in (("free disk (cache)", cache_dir),
                       ("free disk (Docker data)", Path(data_root) if data_root else None)):
        if path is None:
            continue
        if name.endswith("(Docker data)") and engine.docker_host:
            checks.append(Check(name, True, "remote engine: not measured here", required=False))
            continue
        where, gib = _free(path)
        checks.append(Check(name, gib >= NEEDED_FREE_GIB, f"{gib:.1f} GiB free at {where}",
                            f"a MySQL build needs about {NEEDED_FREE_GIB} GiB: free space, or move the folder "
                            "(MYSQLBUILD_CACHE_DIR, Docker's data-root)", required=False))
    for tool, package, required in (("rpm", "rpm", True), ("debootstrap", "debootstrap", False)):
        found = shutil.which(tool)
        checks.append(Check(f"{tool} on the host", bool(found), found or "not found",
                            f"apt-get install {package} (Debian/Ubuntu)", required=required))
    # invoke repo and invoke bundle: the repository's metadata and the signatures (not needed to build).
    for tool, use in (("createrepo_c", "makes the yum repository (invoke repo, invoke bundle)"),
                      ("rpmsign", "signs the RPMs (--gpg-key)"), ("gpg", "signs the metadata and bundles (--gpg-key)")):
        found = shutil.which(tool)
        checks.append(Check(f"{tool} on the host", bool(found), f"{found}: {use}" if found else f"not found; it {use}",
                            "install it: " + INSTALL[tool], required=False))
    try:
        from .rpmcheck import load_libarchive

        checks.append(Check("libarchive on the host", True, f"reads RPM payloads ({load_libarchive().__name__})"))
    except PipelineError as exc:
        checks.append(Check("libarchive on the host", False, exc.message, exc.hint or ""))
    return checks


def mode_checks(load_targets: Callable[[], list]) -> list[Check]:
    """Which build mode each target will use, and why (a mode that cannot work here fails)."""
    try:
        targets = load_targets()
    except PipelineError as exc:
        return [Check("build mode", False, exc.message, exc.hint or "")]
    checks = []
    for t in targets:
        detail = f"{t.mode.name}: {t.mode.reason}{t.expected_time}"
        if t.mode.name == "emulate":
            # Emulation works, but takes hours for a real compile: a warning, with the way out when there is one.
            fix = ("--mode auto (or cross) compiles with the host toolchain instead"
                   if toolchain_for(t.settings.toolchain, t.mode.host) else "")
            checks.append(Check(f"build mode of {t.label}", False, detail, fix, required=False))
        else:
            checks.append(Check(f"build mode of {t.label}", True, detail))
    return checks


def format_checks(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
        lines.append(f"[{mark}] {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"       fix: {check.fix}")
    return "\n".join(lines)
