"""Fetching against a real HTTP server on loopback: mirrors, resume, retries, checksums, cache."""
from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading

import pytest

from httpfiles import FileServer, Route
from mysqlbuild.errors import ChecksumError, FetchError
from mysqlbuild.recipe import Source
from mysqlbuild.sources import Fetcher, cache_path

DATA = os.urandom(3 * 1024 * 1024 + 123)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def server():
    srv = FileServer()
    yield srv
    srv.close()


def source(*urls, file="pkg-1.0.tar.gz", sha=SHA):
    return Source(file=file, sha256=sha, urls=tuple(urls))


def fetcher(tmp_path, reporter, **kw):
    return Fetcher(tmp_path / "cache", reporter, backoff=0.01, **kw)


def cache_files(tmp_path):
    root = tmp_path / "cache"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_download_is_verified_and_kept_under_its_checksum(tmp_path, server, reporter):
    server.routes["/a/pkg-1.0.tar.gz"] = Route(DATA)
    path = fetcher(tmp_path, reporter).fetch(source(server.url("/a/pkg-1.0.tar.gz")))
    assert path == tmp_path / "cache" / SHA / "pkg-1.0.tar.gz"
    assert path.read_bytes() == DATA
    assert cache_files(tmp_path) == [f"{SHA}/pkg-1.0.tar.gz"]
    assert "sha256 verified" in reporter.text()


def test_wrong_checksum_names_everything_and_leaves_the_cache_clean(tmp_path, server, reporter):
    server.routes["/a/pkg-1.0.tar.gz"] = Route(DATA)
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        fetcher(tmp_path, reporter).fetch(source(server.url("/a/pkg-1.0.tar.gz"), sha=wrong))
    message = info.value.message
    assert "pkg-1.0.tar.gz" in message and wrong in message and SHA in message
    assert server.url("/a/pkg-1.0.tar.gz") in message
    assert cache_files(tmp_path) == []
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_404_then_the_next_url(tmp_path, server, reporter):
    server.routes["/good/pkg-1.0.tar.gz"] = Route(DATA)
    path = fetcher(tmp_path, reporter).fetch(
        source(server.url("/missing/pkg-1.0.tar.gz"), server.url("/good/pkg-1.0.tar.gz")))
    assert path.read_bytes() == DATA
    assert [r[0] for r in server.requests] == ["/missing/pkg-1.0.tar.gz", "/good/pkg-1.0.tar.gz"]


def test_the_mirror_is_tried_before_the_recipe_urls(tmp_path, server, reporter):
    server.routes["/mirror/pkg-1.0.tar.gz"] = Route(DATA)
    server.routes["/upstream/pkg-1.0.tar.gz"] = Route(DATA)
    f = fetcher(tmp_path, reporter, mirror=server.url("/mirror"))
    f.fetch(source(server.url("/upstream/pkg-1.0.tar.gz")))
    assert [r[0] for r in server.requests] == ["/mirror/pkg-1.0.tar.gz"]


def test_a_mirror_without_the_file_falls_back_to_the_recipe_urls(tmp_path, server, reporter):
    server.routes["/upstream/pkg-1.0.tar.gz"] = Route(DATA)
    f = fetcher(tmp_path, reporter, mirror=server.url("/mirror/"))
    assert f.fetch(source(server.url("/upstream/pkg-1.0.tar.gz"))).read_bytes() == DATA
    assert [r[0] for r in server.requests] == ["/mirror/pkg-1.0.tar.gz", "/upstream/pkg-1.0.tar.gz"]


def test_resume_after_the_server_cuts_the_connection(tmp_path, server, reporter):
    server.routes["/a/pkg-1.0.tar.gz"] = Route(DATA, cut_first=1)
    path = fetcher(tmp_path, reporter).fetch(source(server.url("/a/pkg-1.0.tar.gz")))
    assert path.read_bytes() == DATA
    (first, first_range), (second, second_range) = server.requests
    assert first_range is None
    assert second_range is not None and second_range.startswith("bytes=")
    resumed_at = int(second_range[6:].rstrip("-"))
    assert 0 < resumed_at < len(DATA), "the second request must continue, not start over"
    assert "connection lost" in reporter.text() and "resuming at" in reporter.text()


def test_a_server_without_ranges_starts_over_and_still_succeeds(tmp_path, server, reporter):
    server.routes["/a/pkg-1.0.tar.gz"] = Route(DATA, cut_first=1, ranges=False)
    path = fetcher(tmp_path, reporter).fetch(source(server.url("/a/pkg-1.0.tar.gz")))
    assert path.read_bytes() == DATA


def test_transient_errors_are_retried_with_backoff(tmp_path, server, reporter):
    server.routes["/a/pkg-1.0.tar.gz"] = Route(DATA, fail_first=[503, 502])
    delays = []
    f = fetcher(tmp_path, reporter, sleep=delays.append)
    assert f.fetch(source(server.url("/a/pkg-1.0.tar.gz"))).read_bytes() == DATA
    assert delays == [0.01, 0.02]


def test_every_url_failing_lists_each_reason_and_how_to_supply_the_file(tmp_path, server, reporter):
    server.routes["/busy/pkg-1.0.tar.gz"] = Route(DATA, status=503)
    urls = [server.url("/missing/pkg-1.0.tar.gz"), server.url("/busy/pkg-1.0.tar.gz"), "http://127.0.0.1:9/x.tgz"]
    f = fetcher(tmp_path, reporter, retries=2, sleep=lambda s: None)
    with pytest.raises(FetchError) as info:
        f.fetch(source(*urls))
    message = info.value.message
    assert f"{urls[0]}: HTTP 404" in message
    assert f"{urls[1]}: HTTP 503" in message and "gave up after 2 attempts" in message
    assert f"{urls[2]}: ConnectionError" in message
    assert str(tmp_path / "cache") in info.value.hint and SHA in info.value.hint
    assert "MYSQLBUILD_MIRROR" in info.value.hint
    assert cache_files(tmp_path) == []


def test_a_file_mirror(tmp_path, reporter):
    mirror = tmp_path / "mirror dir"
    mirror.mkdir()
    (mirror / "pkg-1.0.tar.gz").write_bytes(DATA)
    f = fetcher(tmp_path, reporter, mirror=mirror.as_uri())
    assert f.fetch(source("https://example.invalid/pkg-1.0.tar.gz")).read_bytes() == DATA


def test_a_wrong_file_on_the_mirror_is_refused_and_nothing_stays(tmp_path, reporter):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "pkg-1.0.tar.gz").write_bytes(b"not the right file")
    f = fetcher(tmp_path, reporter, mirror=mirror.as_uri())
    with pytest.raises(ChecksumError):
        f.fetch(source("https://example.invalid/pkg-1.0.tar.gz"))
    assert cache_files(tmp_path) == []


def test_a_cached_file_is_not_fetched_again(tmp_path, server, reporter):
    server.routes["/a/pkg-1.0.tar.gz"] = Route(DATA)
    f = fetcher(tmp_path, reporter)
    src = source(server.url("/a/pkg-1.0.tar.gz"))
    f.fetch(src)
    f.fetch(src)
    assert len(server.requests) == 1
    assert f.is_cached(src)


def test_a_tampered_cache_entry_is_fetched_anew(tmp_path, server, reporter):
    server.routes["/a/pkg-1.0.tar.gz"] = Route(DATA)
    f = fetcher(tmp_path, reporter)
    src = source(server.url("/a/pkg-1.0.tar.gz"))
    cache_path(tmp_path / "cache", src).parent.mkdir(parents=True)
    cache_path(tmp_path / "cache", src).write_bytes(b"corrupt")
    assert f.fetch(src).read_bytes() == DATA
    assert "no longer matches" in reporter.text()


def test_a_file_placed_by_hand_is_verified_and_adopted(tmp_path, reporter):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "pkg-1.0.tar.gz").write_bytes(DATA)
    path = fetcher(tmp_path, reporter).fetch(source("https://example.invalid/pkg-1.0.tar.gz"))
    assert path == tmp_path / "cache" / SHA / "pkg-1.0.tar.gz"
    assert not (tmp_path / "cache" / "pkg-1.0.tar.gz").exists()


def test_a_wrong_file_placed_by_hand_is_refused_and_left_for_the_user(tmp_path, reporter):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "pkg-1.0.tar.gz").write_bytes(b"wrong")
    with pytest.raises(ChecksumError) as info:
        fetcher(tmp_path, reporter).fetch(source("https://example.invalid/pkg-1.0.tar.gz"))
    assert "placed by hand" in info.value.message
    assert not (tmp_path / "cache" / SHA).exists()


# -- failing fast where retrying cannot help --------------------------------------
def refused_url(path="/pkg-1.0.tar.gz"):
    """A loopback URL nobody listens on: bind a port, then close it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}{path}"


UNRESOLVABLE = "http://nowhere.invalid/pkg-1.0.tar.gz"   # RFC 2606: .invalid never resolves


def test_an_unresolvable_host_moves_on_at_once(tmp_path, server, reporter):
    server.routes["/good/pkg-1.0.tar.gz"] = Route(DATA)
    delays = []
    f = fetcher(tmp_path, reporter, sleep=delays.append)
    path = f.fetch(source(UNRESOLVABLE, server.url("/good/pkg-1.0.tar.gz")))
    assert path.read_bytes() == DATA
    assert delays == []
    assert "retrying" not in reporter.text()
    assert [r[0] for r in server.requests] == ["/good/pkg-1.0.tar.gz"]


def test_a_refused_connection_moves_on_at_once(tmp_path, server, reporter):
    server.routes["/good/pkg-1.0.tar.gz"] = Route(DATA)
    delays = []
    f = fetcher(tmp_path, reporter, sleep=delays.append)
    path = f.fetch(source(refused_url(), server.url("/good/pkg-1.0.tar.gz")))
    assert path.read_bytes() == DATA
    assert delays == []
    assert "retrying" not in reporter.text()


def test_an_unresolvable_mirror_falls_back_to_the_recipe_urls_at_once(tmp_path, server, reporter):
    server.routes["/upstream/pkg-1.0.tar.gz"] = Route(DATA)
    delays = []
    f = fetcher(tmp_path, reporter, mirror="http://mirror.invalid/dist", sleep=delays.append)
    assert f.fetch(source(server.url("/upstream/pkg-1.0.tar.gz"))).read_bytes() == DATA
    assert delays == []
    assert "retrying" not in reporter.text()


def test_a_503_is_still_retried_after_an_unreachable_url(tmp_path, server, reporter):
    server.routes["/busy/pkg-1.0.tar.gz"] = Route(DATA, fail_first=[503, 503])
    delays = []
    f = fetcher(tmp_path, reporter, sleep=delays.append)
    path = f.fetch(source(UNRESOLVABLE, refused_url(), server.url("/busy/pkg-1.0.tar.gz")))
    assert path.read_bytes() == DATA
    assert delays == [0.01, 0.02]
    assert reporter.text().count("retrying") == 2
    assert reporter.text().count("HTTP 503") == 2


def test_a_connection_reset_is_still_retried(tmp_path, reporter):
    """A server that accepts, then closes without answering: retried with back-off as before."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def slam():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()   # RST: connection reset by peer

    thread = threading.Thread(target=slam, daemon=True)
    thread.start()
    delays = []
    f = fetcher(tmp_path, reporter, retries=3, sleep=delays.append)
    try:
        with pytest.raises(FetchError) as info:
            f.fetch(source(f"http://127.0.0.1:{port}/pkg-1.0.tar.gz"))
    finally:
        stop.set()
        listener.close()
        thread.join(5)
    assert delays == [0.01, 0.02]
    assert "gave up after 3 attempts" in info.value.message
    assert "reset" in info.value.message.lower()


def test_every_url_unreachable_fails_with_the_usual_message_and_hint(tmp_path, reporter):
    delays = []
    urls = [UNRESOLVABLE, "https://other.invalid/archives/pkg-1.0.tar.gz", refused_url()]
    f = fetcher(tmp_path, reporter, sleep=delays.append)
    with pytest.raises(FetchError) as info:
        f.fetch(source(*urls))
    message = info.value.message
    assert message.startswith("could not download pkg-1.0.tar.gz from any URL:\n")
    for url in urls:
        assert f"  {url}: ConnectionError" in message
    assert "Failed to resolve 'nowhere.invalid'" in message
    assert "gave up" not in message
    hint = info.value.hint
    assert hint.startswith(f"download it on a machine with access and copy it into {tmp_path / 'cache'}/ ")
    assert SHA in hint and "MYSQLBUILD_MIRROR" in hint
    assert delays == []
    assert "retrying" not in reporter.text()
    assert cache_files(tmp_path) == []
