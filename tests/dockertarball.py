"""Tarballs with the layout of Docker's static engine tarballs (docker/<binary>), for tests.

Docker's real tarball cannot be downloaded where the tests run, so the tests
pack their own: fake ELF files for the unit tests, and the Docker binaries
installed on the CI host (Debian's docker.io, containerd, runc, tini) for the
integration tests.  Reproducible: fixed mtimes, gzip without a timestamp.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

FIXED_MTIME = 1700000000
# Where Debian's packages put what Docker's static tarball ships (dpkg -L docker.io containerd runc tini).
DEBIAN_BINARIES = {
    "dockerd": ("/usr/sbin/dockerd",),
    "docker": ("/usr/bin/docker",),
    "containerd": ("/usr/bin/containerd",),
    "containerd-shim-runc-v2": ("/usr/bin/containerd-shim-runc-v2",),
    "ctr": ("/usr/bin/ctr",),
    "runc": ("/usr/sbin/runc", "/usr/bin/runc"),
    "docker-init": ("/usr/sbin/docker-init", "/usr/bin/docker-init", "/usr/bin/tini-static"),
    "docker-proxy": ("/usr/sbin/docker-proxy", "/usr/bin/docker-proxy"),
}


def fake_elf(machine: int, body: bytes = b"") -> bytes:
    """The first bytes of an ELF file for e_machine `machine` (62 x86_64, 183 aarch64)."""
    return b"\x7fELF\x02\x01\x01" + bytes(11) + machine.to_bytes(2, "little") + bytes(44) + body


def pack(out: Path, files: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> str:
    """Write docker/<name> for each file (mode 0755) into out (.tgz); returns its sha256."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        folder = tarfile.TarInfo("docker")
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
        tar.addfile(folder)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"docker/{name}")
            info.size, info.mode, info.mtime = len(data), 0o755, FIXED_MTIME
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0,
                                                  compresslevel=1) as gz:
        gz.write(raw.getvalue())
    return hashlib.sha256(out.read_bytes()).hexdigest()


def debian_binaries() -> dict[str, bytes]:
    """The host's Docker binaries under the names of Docker's static tarball (symlinks followed)."""
    files = {}
    for name, candidates in DEBIAN_BINARIES.items():
        found = [Path(c) for c in candidates if Path(c).exists()]
        if not found:
            raise FileNotFoundError(f"{name}: none of {', '.join(candidates)} exists; CI installs docker.io, "
                                    f"containerd, runc and tini (ci/setup-host.sh)")
        files[name] = found[0].resolve().read_bytes()
    return files


def pin_file(path: Path, version: str, arch: str, file: str, sha256: str, urls: list[str]) -> Path:
    """A pin file (the format of delivery/docker-static.yaml) pinning one tarball."""
    path.write_text(f'default_version: "{version}"\nversions:\n  "{version}":\n    {arch}:\n'
                    f"      file: {file}\n      sha256: {sha256}\n      urls: [{', '.join(urls)}]\n")
    return path
