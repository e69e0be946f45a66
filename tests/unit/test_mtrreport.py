"""Reading mysql-test-run.pl's output, judging it against known failures, and the JUnit file."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from mysqlbuild.mtrreport import Reader, failure_log, file_name, judge, junit
from mysqlbuild.recipe import KnownFailure

# As MySQL 5.7's mysql-test-run.pl prints them with --parallel=2 (a failure is followed by its diff).
MYSQL57 = """\
Logging: ./mysql-test-run.pl  --force --parallel=2 main.insert binlog.binlog_database
==============================================================================
TEST                                      RESULT   TIME (ms) or COMMENT
--------------------------------------------------------------------------
[  8%] main.insert                              w2 [ pass ]    512
[ 16%] binlog.binlog_database 'mix'             w1 [ pass ]    301
[ 25%] binlog.binlog_database 'row'             w1 [ pass ]    290
[ 33%] binlog.binlog_database 'stmt'            w2 [ skipped ]  Doesn't support --binlog-format='statement'
[ 41%] main.ctype_gbk                           w1 [ fail ]
        Test ended at 2026-12-04 10:00:00

CURRENT_TEST: main.ctype_gbk
--- /usr/share/mysql-test/r/ctype_gbk.result
+++ /usr/share/mysql-test/var/log/ctype_gbk.reject
@@ -1,3 +1,3 @@
-a
+b
[ 50%] main.trigger                             w2 [ skipped ]  Test requires: 'not_as_root'
[ 58%] innodb.crc32_endianness                  w1 [ fail ]
        Test ended at 2026-12-04 10:00:01
mysqltest: At line 12: query failed
[ 66%] innodb.crc32_endianness                  w1 [ retry-pass ]    800
[ 75%] main.lock                                w2 [ disabled ]  Bug#12345
--------------------------------------------------------------------------
Completed: Failed 1/7 tests, 85.71% were successful.
"""

# As MariaDB's fork prints them (no percentage).
MARIADB = """\
mysqlbuild.pass                          w2 [ pass ]      3
mysqlbuild.known                         w1 [ fail ]
        Test ended at 2026-12-04 10:00:00
mysqltest: Result content mismatch
mysqlbuild.fixed                         w1 [ pass ]      2
mysqlbuild.fail                          w2 [ fail ]
mysqltest: Result content mismatch
"""


def read(text: str) -> Reader:
    reader = Reader()
    for line in text.splitlines():
        reader.feed(line)
    return reader


def test_mysql57_output_is_read_run_by_run():
    reader = read(MYSQL57)
    labels = [(r.label, r.status) for r in reader.runs]
    assert labels == [("main.insert", "pass"), ("binlog.binlog_database 'mix'", "pass"),
                      ("binlog.binlog_database 'row'", "pass"), ("binlog.binlog_database 'stmt'", "skipped"),
                      ("main.ctype_gbk", "fail"), ("main.trigger", "skipped"),
                      ("innodb.crc32_endianness", "pass"), ("main.lock", "skipped")]
    assert reader.percent == 75
    gbk = reader.runs[4]
    assert "+b" in gbk.output and "CURRENT_TEST: main.ctype_gbk" in gbk.output
    assert reader.runs[0].seconds == 0.512
    assert reader.runs[3].detail == "Doesn't support --binlog-format='statement'"


def test_mariadb_output_is_read_too():
    assert [(r.name, r.status) for r in read(MARIADB).runs] == [
        ("mysqlbuild.pass", "pass"), ("mysqlbuild.known", "fail"), ("mysqlbuild.fixed", "pass"),
        ("mysqlbuild.fail", "fail")]


KNOWN = (KnownFailure("mysqlbuild.known", "expects 3"), KnownFailure("mysqlbuild.fixed", "was broken"),
         KnownFailure("mysqlbuild.fail", "only under QEMU", when="emulated"))


def test_known_failures_do_not_fail_the_run_and_fixed_ones_are_named():
    verdict = judge(read(MARIADB).runs, KNOWN, emulated=False)
    assert [r.name for r in verdict.unexpected] == ["mysqlbuild.fail"]
    assert [(r.name, r.known.reason) for r in verdict.known_failed] == [("mysqlbuild.known", "expects 3")]
    assert [k.test for k in verdict.fixed] == ["mysqlbuild.fixed"]
    assert not verdict.ok
    assert verdict.summary() == "4 test runs: 2 passed, 0 skipped, 1 known failure(s), 1 failed"


def test_a_failure_known_only_under_emulation_counts_under_emulation():
    verdict = judge(read(MARIADB).runs, KNOWN, emulated=True)
    assert verdict.ok and {r.name for r in verdict.known_failed} == {"mysqlbuild.known", "mysqlbuild.fail"}


def test_junit_has_every_run_with_failures_and_known_ones_apart():
    verdict = judge(read(MARIADB).runs, KNOWN, emulated=False)
    root = ET.fromstring(junit(verdict, "mysql-test-run fixture", 12.5))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["fail"].find("failure") is not None and "Result content mismatch" in cases["fail"].find("failure").text
    assert cases["known"].find("skipped").get("message") == "known failure: expects 3"
    assert "remove it from mtr.known_failures" in cases["fixed"].find("system-out").text
    assert cases["pass"].get("classname") == "mysqlbuild" and list(cases["pass"]) == []


def test_failure_files_are_named_after_the_run():
    run = read(MYSQL57).runs[4]
    assert file_name(run) == "main.ctype_gbk.log"
    assert failure_log(run).startswith("main.ctype_gbk: failed\n")
    combo = read(MYSQL57).runs[1]
    assert file_name(combo) == "binlog.binlog_database_mix.log"
