"""Source downloads: mirrors, resume, retries, checksums and the cache.

The cache holds each file as ``<cache>/<sha256>/<file>``: a path that names its
own checksum, written only after the checksum was verified.  A download in
progress lives beside it as ``.<file>.part`` and is used for nothing but
resuming.  Users who must bring a file by hand drop it into ``<cache>/`` (or
point MYSQLBUILD_MIRROR at a folder holding it); it is verified before use.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import socket
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import requests

from .errors import ChecksumError, FetchError
from .progress import Reporter
from .recipe import Source

CHUNK = 1 << 20
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
USER_AGENT = "mysqlbuild/0.1 (+source fetch)"
RETRIES = 4             # download attempts per URL on transient errors (the retries setting's default)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_path(cache_dir: Path, source: Source) -> Path:
    return cache_dir / source.sha256 / source.file


def candidate_urls(source: Source, mirror: str, folders: tuple[str, ...] = ()) -> list[str]:
    """The mirror's copy first (in each of `folders` under it, then at its top), then the source's URLs."""
    urls = []
    if mirror:
        base = mirror if mirror.endswith("/") else mirror + "/"
        urls.extend(f"{base}{folder}/{urllib.parse.quote(source.file)}" for folder in folders)
        urls.append(base + urllib.parse.quote(source.file))
    urls.extend(u for u in source.urls if u not in urls)
    return urls


class _Transient(Exception):
    """Worth retrying: connection trouble, a timeout, a 5xx answer."""


class _Permanent(Exception):
    """Not worth retrying at this URL: 404, 403, a missing file."""


class _Unreachable(_Permanent):
    """The host name does not resolve or the port refuses connections: retrying
    the same URL only waits out the back-off (offline, a typo in a mirror)."""


@dataclass
class Fetcher:
    cache_dir: Path
    reporter: Reporter
    mirror: str = ""
    retries: int = RETRIES
    backoff: float = 1.0
    timeout: float = 30.0
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.session is None:
            self.session = requests.Session()
            self.session.headers["User-Agent"] = USER_AGENT

    # -- public -------------------------------------------------------------
    def is_cached(self, source: Source) -> bool:
        path = cache_path(self.cache_dir, source)
        return path.is_file() and sha256_file(path) == source.sha256

    def store(self, source: Source, path: Path, *, move: bool) -> Path:
        """Put a file whose sha256 the caller has checked into the cache under it: moved there, or
        copied beside and swapped in (a copy that fails midway leaves nothing)."""
        final = cache_path(self.cache_dir, source)
        final.parent.mkdir(parents=True, exist_ok=True)
        if move:
            os.replace(path, final)
            return final
        part = final.parent / f".{final.name}.part"
        try:
            shutil.copyfile(path, part)
            os.replace(part, final)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return final

    def fetch_all(self, sources: Iterable[Source]) -> dict[str, Path]:
        return {s.file: self.fetch(s) for s in sources}

    def fetch(self, source: Source, mirror_folders: tuple[str, ...] = ()) -> Path:
        """The verified file in the cache: found there, adopted from <cache>/<file>, or downloaded
        (from the mirror, looked for in each of `mirror_folders` first, then from the source's URLs)."""
        final = cache_path(self.cache_dir, source)
        if final.is_file():
            if sha256_file(final) == source.sha256:
                self.reporter.note(f"{source.file}: in cache, sha256 verified")
                return final
            # Something changed a file we verified: never trust it, fetch anew.
            self.reporter.warn(f"{source.file}: cached copy no longer matches its sha256; fetching it again")
            final.unlink()
        dropped = self.cache_dir / source.file
        if dropped.is_file():
            return self._adopt(source, dropped, final)

        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.parent / f".{source.file}.part"
        failures: list[tuple[str, str]] = []
        for url in candidate_urls(source, self.mirror, mirror_folders):
            try:
                self._download(url, part, source)
            except (_Permanent, _Transient) as exc:
                failures.append((url, str(exc)))
                continue
            actual = sha256_file(part)
            if actual != source.sha256:
                part.unlink(missing_ok=True)
                _remove_if_empty(final.parent)
                raise ChecksumError(
                    f"checksum mismatch for {source.file} from {url}: expected sha256 {source.sha256}, "
                    f"got {actual}; the download was discarded",
                    "the server holds a different file under this name (a wrong mirror, a truncated or "
                    "tampered file). Check the mirror's copy with sha256sum, or the recipe's pinned checksum")
            os.replace(part, final)
            self.reporter.note(f"{source.file}: downloaded from {url}, sha256 verified")
            return final
        if part.exists() and part.stat().st_size == 0:
            part.unlink()
        _remove_if_empty(final.parent)
        lines = "\n".join(f"  {url}: {reason}" for url, reason in failures)
        raise FetchError(
            f"could not download {source.file} from any URL:\n{lines}",
            f"download it on a machine with access and copy it into {self.cache_dir}/ "
            f"(it is checked against sha256 {source.sha256}), or set MYSQLBUILD_MIRROR to an http(s):// "
            f"or file:// folder that holds it by name")

    # -- internals ------------------------------------------------------------
    def _adopt(self, source: Source, dropped: Path, final: Path) -> Path:
        actual = sha256_file(dropped)
        if actual != source.sha256:
            raise ChecksumError(
                f"checksum mismatch for {source.file} placed by hand at {dropped}: expected sha256 "
                f"{source.sha256}, got {actual}",
                f"remove {dropped} and copy in the right file (the recipe pins its sha256)")
        self.store(source, dropped, move=True)
        self.reporter.note(f"{source.file}: taken from {dropped}, sha256 verified")
        return final

    def _download(self, url: str, part: Path, source: Source) -> None:
        if url.startswith("file://"):
            self._copy_file_url(url, part, source)
            return
        attempt = 0
        while True:
            attempt += 1
            try:
                self._http_once(url, part, source)
                return
            except _Transient as exc:
                if attempt >= max(1, self.retries):
                    raise _Transient(f"{exc} (gave up after {attempt} attempts)") from None
                delay = min(self.backoff * 2 ** (attempt - 1), 30.0)
                self.reporter.warn(f"{source.file}: {exc}; retrying in {delay:.0f} s "
                                   f"(attempt {attempt + 1} of {self.retries})")
                self.sleep(delay)

    def _http_once(self, url: str, part: Path, source: Source) -> None:
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            response = self.session.get(url, stream=True, timeout=self.timeout, headers=headers)
        except (requests.ConnectionError, requests.Timeout) as exc:
            if _unreachable(exc):
                raise _Unreachable(_short(exc)) from None
            raise _Transient(_short(exc)) from None
        except requests.RequestException as exc:
            raise _Permanent(_short(exc)) from None
        with response:
            if response.status_code == 416 and have:
                # The part may already be whole; otherwise start over.
                if sha256_file(part) == source.sha256:
                    return
                part.unlink()
                raise _Transient("server refused to resume; starting over")
            if response.status_code in TRANSIENT_STATUS:
                raise _Transient(f"HTTP {response.status_code} {response.reason}")
            if response.status_code not in (200, 206):
                raise _Permanent(f"HTTP {response.status_code} {response.reason}")
            mode = "wb"
            start = 0
            if response.status_code == 206 and have:
                content_range = response.headers.get("Content-Range", "")
                if content_range.startswith(f"bytes {have}-"):
                    mode, start = "ab", have
            length = response.headers.get("Content-Length")
            total = start + int(length) if length and length.isdigit() else None
            received = start
            bar = self.reporter.transfer(source.file, total, start, resumed=bool(start))
            try:
                with open(part, mode) as handle:
                    for block in response.iter_content(CHUNK):
                        handle.write(block)
                        received += len(block)
                        bar.advance(len(block))
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.Timeout) as exc:
                raise _Transient(f"connection lost after {received} bytes ({_short(exc)})") from None
            finally:
                bar.close()
            if total is not None and received < total:
                raise _Transient(f"connection lost after {received} of {total} bytes")

    def _copy_file_url(self, url: str, part: Path, source: Source) -> None:
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
        if not path.is_file():
            raise _Permanent(f"no such file {path}")
        total = path.stat().st_size
        bar = self.reporter.transfer(source.file, total, 0, resumed=False)
        try:
            with open(path, "rb") as src, open(part, "wb") as dst:
                for block in iter(lambda: src.read(CHUNK), b""):
                    dst.write(block)
                    bar.advance(len(block))
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise _Permanent(f"cannot read {path}: {exc.strerror}") from None
        finally:
            bar.close()


def _short(exc: Exception) -> str:
    text = str(exc)
    if "Max retries exceeded" in text and "(Caused by" in text:
        text = text.split("(Caused by", 1)[1].rstrip(")")
    return f"{type(exc).__name__}: {text}"[:300]


def _unreachable(exc: BaseException) -> bool:
    """True when the connection failed because the host name does not resolve
    (socket.gaierror under urllib3's NameResolutionError) or the connection was
    refused (ECONNREFUSED under NewConnectionError).  Timeouts, resets and
    everything else stay retryable."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        cur = todo.pop()
        if not isinstance(cur, BaseException) or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, (socket.gaierror, ConnectionRefusedError)):
            return True
        if isinstance(cur, OSError) and cur.errno == errno.ECONNREFUSED:
            return True
        # requests wraps urllib3's MaxRetryError (in args); that one names the cause in .reason.
        todo.extend([cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args[:1]])
    return False


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def copy_or_link(src: Path, dest: Path) -> None:
    """Put a cached file into a build context without copying gigabytes when possible."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        dest.unlink()
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
