"""GPG keys made for a test, in a keyring of its own (GNUPGHOME), and the gpg-agent it starts stopped after."""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def gpg(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], capture_output=True, text=True,
                          check=check)


def make_key(home: Path, uid: str, passphrase: str = "") -> str:
    """An RSA signing key in the keyring `home`; its fingerprint."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    gpg(home, "--passphrase", passphrase, "--pinentry-mode", "loopback", "--quick-gen-key", uid, "rsa2048", "sign",
        "never")
    listed = gpg(home, "--with-colons", "--list-secret-keys", uid).stdout
    return next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))


def export(home: Path, fingerprint: str, dest: Path) -> Path:
    dest.write_text(gpg(home, "--armor", "--export", fingerprint).stdout)
    return dest


@contextmanager
def keyring(home: Path) -> Iterator[Path]:
    """GNUPGHOME=`home` while the block runs; the gpg-agent started for it is stopped at the end."""
    before = os.environ.get("GNUPGHOME")
    os.environ["GNUPGHOME"] = str(home)
    try:
        yield home
    finally:
        if before is None:
            os.environ.pop("GNUPGHOME", None)
        else:
            os.environ["GNUPGHOME"] = before
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
