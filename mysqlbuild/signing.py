"""GPG signatures: the user's key, found and tried before anything is signed; detached signatures.

What `invoke repo` and `invoke bundle` sign (the RPMs through rpmsign, repomd.xml, a bundle's
SHA256SUMS and its .tar.gz) is signed with one secret key of the user's keyring (GNUPGHOME, else
~/.gnupg), named by the setting gpg_key: a fingerprint, a key id or a user id.

`find_key()` runs first, before any file is written: the name must match exactly one secret key
that can sign, and a real signature is made with it, without a terminal: gpg runs with --batch
and --pinentry-mode error, so a key whose passphrase no gpg-agent holds fails here, with what to
do, instead of hanging in a pinentry or failing after half of the files were signed.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import proc
from .errors import PipelineError

NEEDED_FOR = "sign the RPMs, the repository and the bundles (gpg_key)"
# gpg with no terminal: never ask for a passphrase, fail instead.
BATCH = ("--batch", "--no-tty", "--pinentry-mode", "error")
# Public-key algorithms (RFC 4880 numbers) that every rpm our hosts run verifies: EL7's rpm 4.11 knows
# RSA and DSA only; EdDSA and ECDSA signatures need rpm 4.14 or newer.
RPM_SAFE_ALGOS = {"1": "RSA", "17": "DSA"}
ALGO_NAMES = {**RPM_SAFE_ALGOS, "16": "Elgamal", "18": "ECDH", "19": "ECDSA", "22": "EdDSA"}
PASSPHRASE_WORDS = ("pinentry", "passphrase", "operation cancelled", "inappropriate ioctl")


class SigningError(PipelineError):
    """The key named cannot sign here."""


@dataclass(frozen=True)
class SigningKey:
    fingerprint: str
    uid: str
    algorithm: str          # RFC 4880 number, as gpg --with-colons gives it
    gpg: str                # the gpg program that holds it
    subkeys: tuple[str, ...] = ()   # fingerprints of its subkeys (one of them may be the signing key)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The long key ids a signature by this key may name (rpm's Key ID): the primary key's and its subkeys'."""
        return tuple(f[-16:].lower() for f in (self.fingerprint, *self.subkeys))

    @property
    def key_id(self) -> str:
        """The short id rpm shows (rpm -K: key ID 850fd1f0; rpm -q gpg-pubkey: gpg-pubkey-850fd1f0-...)."""
        return self.fingerprint[-8:].lower()

    @property
    def rpm_compatible(self) -> bool:
        return self.algorithm in RPM_SAFE_ALGOS

    def describe(self) -> str:
        return f"{self.fingerprint} ({self.uid}, {ALGO_NAMES.get(self.algorithm, 'algorithm ' + self.algorithm)})"


def keyring() -> str:
    return os.environ.get("GNUPGHOME") or "~/.gnupg"


def _secret_keys(gpg: str, name: str) -> list[dict[str, str]]:
    """The secret keys `name` matches: fingerprint, first user id, algorithm, capabilities, validity."""
    listed = proc.run([gpg, *BATCH, "--with-colons", "--fixed-list-mode", "--list-secret-keys", "--", name],
                      check=False, needed_for=NEEDED_FOR)
    if listed.returncode != 0:
        return []
    keys: list[dict[str, str]] = []
    for line in listed.stdout.splitlines():
        fields = line.split(":")
        if fields[0] == "sec":
            keys.append({"validity": fields[1], "algorithm": fields[3], "caps": fields[11] if len(fields) > 11 else "",
                         "fingerprint": "", "uid": "", "subkeys": []})
        elif keys and fields[0] == "fpr" and not keys[-1]["fingerprint"]:
            keys[-1]["fingerprint"] = fields[9]
        elif keys and fields[0] == "fpr":
            keys[-1]["subkeys"].append(fields[9])
        elif keys and fields[0] == "uid" and not keys[-1]["uid"]:
            keys[-1]["uid"] = fields[9]
    return keys


def find_key(name: str) -> SigningKey:
    """The one secret key `name` names, after a trial signature made with it as the real ones will be."""
    gpg = proc.require("gpg", NEEDED_FOR)
    keys = _secret_keys(gpg, name)
    if not keys:
        raise SigningError(f"no secret key named {name!r} in the keyring {keyring()}",
                        "gpg --list-secret-keys shows the keys that can sign here; give a fingerprint, key id or "
                        "user id of one (GNUPGHOME chooses another keyring), or make one: gpg --quick-gen-key "
                        "'Build signing <dba@example.com>' rsa3072 sign 2y")
    if len(keys) > 1:
        raise SigningError(f"{name!r} names {len(keys)} secret keys: " + ", ".join(k["fingerprint"] for k in keys),
                        "give the fingerprint of the one to sign with")
    found = keys[0]
    if "S" not in found["caps"] or found["validity"] in ("e", "r", "d", "i"):
        state = {"e": "has expired", "r": "is revoked", "d": "is disabled", "i": "is invalid"}.get(
            found["validity"], "has no usable signing (sub)key")
        raise SigningError(f"the key {found['fingerprint']} ({found['uid']}) cannot sign: it {state}",
                        "extend it (gpg --quick-set-expire), add a signing subkey, or name another key")
    key = SigningKey(found["fingerprint"], found["uid"], found["algorithm"], gpg, tuple(found["subkeys"]))
    _try_signing(key)
    return key


def _try_signing(key: SigningKey) -> None:
    with tempfile.TemporaryDirectory(prefix="mysqlbuild-sign-") as folder:
        probe = Path(folder) / "probe"
        probe.write_text("mysqlbuild: can this key sign without a terminal?\n")
        tried = proc.run([key.gpg, *BATCH, "--local-user", key.fingerprint, "--detach-sign", "--output",
                          str(probe) + ".sig", str(probe)], check=False, needed_for=NEEDED_FOR)
    if tried.returncode == 0:
        return
    text = tried.output
    if any(word in text.lower() for word in PASSPHRASE_WORDS):
        raise SigningError(f"the key {key.fingerprint} ({key.uid}) needs its passphrase, and no gpg-agent holds it; "
                        "nothing was signed or written",
                        f"let the agent ask for it once (echo test | gpg --clearsign -u {key.fingerprint} "
                        ">/dev/null, in a terminal: the agent keeps it for its cache time), or preset it with "
                        "gpg-preset-passphrase; then run again. gpg said: " + text.strip()[-300:])
    raise SigningError(f"the key {key.fingerprint} ({key.uid}) could not sign a test file; nothing was signed or "
                    "written", "gpg said: " + text.strip()[-500:])


def detach_sign(key: SigningKey, path: Path, armor: bool = True) -> Path:
    """`path`.asc (or .sig): a detached signature of the file, made with `key`."""
    out = path.with_name(path.name + (".asc" if armor else ".sig"))
    proc.run([key.gpg, *BATCH, "--yes", "--local-user", key.fingerprint, *(["--armor"] if armor else []),
              "--detach-sign", "--output", str(out), str(path)], what=f"gpg signing {path.name}",
             needed_for=NEEDED_FOR)
    return out


def export_public(key: SigningKey, dest: Path) -> Path:
    """The public key, ASCII-armored, as yum's gpgkey= and rpm --import read it."""
    exported = proc.run([key.gpg, *BATCH, "--armor", "--export", key.fingerprint], what="gpg --export",
                        needed_for=NEEDED_FOR)
    if "BEGIN PGP PUBLIC KEY BLOCK" not in exported.stdout:
        raise SigningError(f"gpg exported no public key for {key.fingerprint}", "check gpg --list-keys")
    dest.write_text(exported.stdout)
    return dest
