"""What sources.Fetcher offers callers with their own rules about where a file comes from (the
Docker tarball of an offline bundle): storing a file they have checked, and a mirror's folders."""
from __future__ import annotations

import hashlib

from mysqlbuild.recipe import Source
from mysqlbuild.sources import Fetcher, candidate_urls, cache_path

DATA = b"a file whose checksum the caller has checked\n"
SOURCE = Source("pkg.tgz", hashlib.sha256(DATA).hexdigest(), ("https://example.invalid/pkg.tgz",))


def test_a_stored_copy_lands_under_its_checksum_and_the_original_stays(tmp_path, reporter):
    given = tmp_path / "given" / "pkg.tgz"
    given.parent.mkdir()
    given.write_bytes(DATA)
    fetcher = Fetcher(tmp_path / "cache", reporter)
    stored = fetcher.store(SOURCE, given, move=False)
    assert stored == cache_path(tmp_path / "cache", SOURCE) and stored.read_bytes() == DATA
    assert given.is_file() and fetcher.is_cached(SOURCE)
    assert [p.name for p in stored.parent.iterdir()] == ["pkg.tgz"], "no .part left beside it"


def test_a_stored_move_takes_the_file_away(tmp_path, reporter):
    given = tmp_path / "pkg.tgz"
    given.write_bytes(DATA)
    assert Fetcher(tmp_path / "cache", reporter).store(SOURCE, given, move=True).read_bytes() == DATA
    assert not given.exists()


def test_mirror_folders_come_before_the_mirrors_top_then_the_sources_urls():
    assert candidate_urls(SOURCE, "file:///m", ("aarch64",)) == [
        "file:///m/aarch64/pkg.tgz", "file:///m/pkg.tgz", "https://example.invalid/pkg.tgz"]
    assert candidate_urls(SOURCE, "", ("aarch64",)) == ["https://example.invalid/pkg.tgz"]


def test_a_file_in_a_mirror_folder_is_fetched(tmp_path, reporter):
    (tmp_path / "mirror" / "aarch64").mkdir(parents=True)
    (tmp_path / "mirror" / "aarch64" / "pkg.tgz").write_bytes(DATA)
    fetcher = Fetcher(tmp_path / "cache", reporter, mirror=(tmp_path / "mirror").as_uri(), retries=1)
    assert fetcher.fetch(SOURCE, mirror_folders=("aarch64",)).read_bytes() == DATA
