"""Carrying a data directory to another server: across architectures, and one the server refuses.

A team moving from x86 servers to Kunpeng takes its volume along: a data
directory initialised and filled by the amd64 image must open in the arm64
image with the same rows and checksums, and the reverse. `invoke verify`
passes the other architecture's image (--mysqlbuild-peer-image) when it
exists; without it these tests are skipped and say so. (CI has no peer: its
MariaDB fixture cannot run for arm64 under QEMU, docs/image.md says why; they
run by hand on the real 5.7 images of both architectures.)

A data directory the server cannot use must be refused by the server itself,
with its own message, and left as it was. Such a directory is made here the
way it happens to users: initialised with a setting (a 64 KiB InnoDB page)
that the server it moves to does not have.
"""
from __future__ import annotations

import pytest

from imagetest import WAIT
from mysqlbuild.testing import runs_emulated

PASSWORD = "carry-pw"
DATABASE = "carried"
# Data of every kind InnoDB and MyISAM store: numbers, decimals, floating point, dates, text in several
# scripts, binary, bits, enums and sets, JSON with a full-text index, spatial data with a spatial index, a
# compressed table, a partitioned one, a MyISAM one. The same SQL runs on MySQL 5.7 and MariaDB 10.11.
DATA_SQL = b"""
CREATE TABLE digits (d INT PRIMARY KEY);
INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
CREATE TABLE seq (n INT PRIMARY KEY);
INSERT INTO seq SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 1
  FROM digits a, digits b, digits c, digits e WHERE e.d < 3;
CREATE TABLE kinds (
  id INT PRIMARY KEY, big BIGINT NOT NULL, money DECIMAL(20, 6), ratio DOUBLE, approx FLOAT,
  word VARCHAR(100) CHARACTER SET utf8mb4, raw VARBINARY(64), body TEXT, stamp DATETIME(6),
  moment TIMESTAMP NULL DEFAULT NULL, flags BIT(12), kind ENUM('a', 'b', 'c'), tags SET('x', 'y', 'z'),
  KEY (word), KEY (stamp)
) ENGINE=InnoDB;
INSERT INTO kinds
  SELECT n, n * n * 1000003 - 7 * n, n / 7, n * PI(), n / 3,
         CONCAT(CONVERT(UNHEX('E8A18CE58897') USING utf8mb4), ' ', n, ' ', CONVERT(UNHEX('C3A9') USING utf8mb4)),
         UNHEX(SHA1(n)), REPEAT(MD5(n), n % 20), TIMESTAMP('2020-02-29 23:59:59') + INTERVAL n * 3607 SECOND,
         IF(n % 5 = 0, NULL, FROM_UNIXTIME(1600000000 + n * 61)), n % 4096, ELT(1 + n % 3, 'a', 'b', 'c'),
         ELT(1 + n % 4, '', 'x', 'x,y', 'x,y,z')
  FROM seq;
CREATE TABLE docs (id INT PRIMARY KEY, doc JSON, title VARCHAR(200), FULLTEXT KEY (title)) ENGINE=InnoDB;
INSERT INTO docs
  SELECT n, JSON_OBJECT('n', n, 'square', n * n, 'name', CONCAT('row ', n),
                        'list', JSON_ARRAY(n, n + 0.5, n % 2 = 0, NULL)),
         CONCAT('document ', n, ' about ', ELT(1 + n % 4, 'kunpeng', 'phytium', 'x86', 'migration'))
  FROM seq;
CREATE TABLE places (id INT PRIMARY KEY, spot GEOMETRY NOT NULL, SPATIAL KEY (spot)) ENGINE=InnoDB;
INSERT INTO places SELECT n, ST_GeomFromText(CONCAT('POINT(', n % 360 - 180, ' ', n % 180 - 90, ')')) FROM seq;
CREATE TABLE packed (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8;
INSERT INTO packed SELECT n, REPEAT(SHA1(n), 20) FROM seq;
CREATE TABLE parts (id INT PRIMARY KEY, v INT) ENGINE=InnoDB PARTITION BY HASH (id) PARTITIONS 4;
INSERT INTO parts SELECT n, n * 7 FROM seq;
CREATE TABLE plain (id INT PRIMARY KEY, v VARCHAR(40), r DOUBLE) ENGINE=MyISAM;
INSERT INTO plain SELECT n, SHA1(n), n / 9 FROM seq;
"""


def columns(server, table: str) -> list[tuple[str, str]]:
    rows = server.query("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                        f"WHERE TABLE_SCHEMA = '{DATABASE}' AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION",
                        password=PASSWORD)
    return [tuple(line.split("\t")) for line in rows.splitlines()]


def value_of(name: str, kind: str) -> str:
    """A column as text that means the same on both servers."""
    if kind == "json":
        return f"QUOTE(CAST(`{name}` AS CHAR))"
    if kind in ("geometry", "point"):
        return f"QUOTE(ST_AsText(`{name}`))"
    if kind == "bit":
        return f"CAST(`{name}` AS UNSIGNED)"
    return f"QUOTE(`{name}`)"


def digests(server) -> dict[str, tuple[str, ...]]:
    """table -> rows, a 64-bit digest of every row in SQL, and CHECKSUM TABLE where it is stable.

    MySQL 5.7's CHECKSUM TABLE hashes in-memory data of JSON columns, and gives different values for the
    same table across restarts: tables with a JSON column are compared by the SQL digest alone."""
    tables = server.query(f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{DATABASE}' "
                          "ORDER BY TABLE_NAME", password=PASSWORD).split()
    found = {}
    for table in tables:
        cols = columns(server, table)
        row = "CONCAT_WS('|', " + ", ".join(value_of(name, kind) for name, kind in cols) + ")"
        count, digest = server.query(
            f"SELECT COUNT(*), BIT_XOR(CAST(CONV(LEFT(SHA1({row}), 16), 16, 10) AS UNSIGNED)) "
            f"FROM `{DATABASE}`.`{table}`", password=PASSWORD).split("\t")
        checksum = "-"
        if not any(kind == "json" for _, kind in cols):
            checksum = server.query(f"CHECKSUM TABLE `{DATABASE}`.`{table}`", password=PASSWORD).split("\t")[1]
        found[table] = (count, digest, checksum)
    return found


def check_all(server) -> list[list[str]]:
    """CHECK TABLE on every table of the database: the rows that are not 'status OK'."""
    tables = server.query(f"SELECT CONCAT('`{DATABASE}`.`', TABLE_NAME, '`') FROM information_schema.TABLES "
                          f"WHERE TABLE_SCHEMA = '{DATABASE}'", password=PASSWORD).split()
    rows = [line.split("\t") for line in
            server.query(f"CHECK TABLE {', '.join(tables)}", password=PASSWORD).splitlines()]
    return [row for row in rows if row[2:] != ["status", "OK"]]


# What a server writes at each start, refused or not, and is no change to the data: MariaDB (the CI fixture)
# starts its Aria engine before InnoDB, which rewrites its control file and log; MySQL has no Aria. The data
# directory's own time changes because a file is made and removed again (MySQL 5.7 tests whether the file
# system is case-sensitive with <host>.lower-test at each start); its entries are compared all the same.
BOOKKEEPING = ("./aria_log_control", "./aria_log.")


def changes(before: dict[str, str], after: dict[str, str]) -> tuple[list[str], list[str]]:
    """The entries that differ (added, removed, other metadata or content), and those that differ only as
    BOOKKEEPING allows."""
    changed, allowed = [], []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if path.startswith(BOOKKEEPING) and old and new:
            allowed.append(path)
        elif path == "." and old and new and old.split()[:4] == new.split()[:4]:
            allowed.append(path + " (time)")
        else:
            changed.append(f"{path}: {old or 'absent'} -> {new or 'absent'}")
    return changed, allowed


@pytest.mark.parametrize("direction", ["from this image to the other", "from the other image to this one"])
def test_data_directory_moves_between_architectures(servers, image, arch, peer, direction, figure):
    """Initialised and filled by one image, stopped cleanly, opened by the image of the other architecture:
    the same rows, the same digests and CHECKSUM TABLE values, CHECK TABLE OK, no error in the log, and
    the data takes new writes there."""
    source, target = ((image, arch), (peer.image, peer.arch))
    if direction.startswith("from the other"):
        source, target = target, source
    volume = servers.volume()
    first = servers.start(image=source[0], volume=volume, init_files={"01-data.sql": (DATA_SQL, 0o644)},
                          env={"MYSQL_ROOT_PASSWORD": PASSWORD, "MYSQL_DATABASE": DATABASE,
                               "MYSQL_INITDB_SKIP_TZINFO": "1"}).wait_ready()
    before = digests(first)
    assert before["kinds"][0] == "3000" and before["docs"][0] == "3000", before
    first.obj.stop(timeout=120)
    assert first.exit_code() == 0, f"the first server did not stop cleanly:\n{first.logs()[-3000:]}"

    second = servers.start(image=target[0], volume=volume).wait_ready()
    after = digests(second)
    assert after == before, f"table: (rows, SQL digest, CHECKSUM TABLE)\nbefore {before}\nafter  {after}"
    assert check_all(second) == []
    second.query(f"INSERT INTO `{DATABASE}`.kinds (id, big) VALUES (0, 1); "
                 f"UPDATE `{DATABASE}`.docs SET doc = JSON_SET(doc, '$.moved', TRUE) WHERE id = 1", password=PASSWORD)
    assert check_all(second) == []
    errors = second.errors(runs_emulated(target[1]))
    assert errors == [], "the server that opened the data logged errors:\n" + "\n".join(errors)
    figure(f"{source[0]} ({source[1]}) -> {target[0]} ({target[1]}): "
           + "; ".join(f"{table} {count} rows, digest {digest}, CHECKSUM TABLE {checksum}"
                       for table, (count, digest, checksum) in sorted(after.items())))


def test_a_data_directory_the_server_refuses_ends_with_its_message_and_stays_untouched(servers, figure):
    """Made with innodb_page_size=64k, opened by a server with the default 16k: the server refuses it with
    its own message, the container stops with an error, and not one file of the volume has changed."""
    volume = servers.volume()
    first = servers.start(env={"MYSQL_ROOT_PASSWORD": PASSWORD, "MYSQL_INITDB_SKIP_TZINFO": "1"},
                          command=["mysqld", "--innodb-page-size=64k"], volume=volume).wait_ready()
    assert first.query("SELECT @@innodb_page_size", password=PASSWORD) == "65536"
    first.obj.stop(timeout=120)
    assert first.exit_code() == 0, first.logs()[-3000:]
    before = servers.snapshot(volume)

    second = servers.start(volume=volume)
    assert second.wait_exit(WAIT) != 0, f"the server used a data directory it cannot read:\n{second.logs()[-3000:]}"
    logs = second.logs()
    message = [line for line in logs.splitlines() if "page size" in line and "65536" in line]
    assert message, f"no message of the server about the page size:\n{logs[-3000:]}"
    assert "[ERROR]" in logs.strip().splitlines()[-1] or "Aborting" in logs[-2000:], \
        f"the log does not end with the server's refusal:\n{logs[-3000:]}"
    changed, allowed = changes(before, servers.snapshot(volume))
    assert changed == [], "the refused data directory was changed:\n" + "\n".join(changed)
    figure(f"refused with: {message[0].strip()}; {len(before)} entries of the volume unchanged"
           + (f" (start-up bookkeeping rewritten: {', '.join(allowed)})" if allowed else ""))
