#!/usr/bin/env python3
"""Concurrent sessions reading and writing against the built image: connections, queries per second, errors.

    .venv/bin/python bench/bench_load.py mysql:5.7.44-amd64 mysql:5.7.44-arm64
    .venv/bin/python bench/bench_load.py --sessions 16,64 --seconds 60 mysql:5.7.44-amd64

For each image (amd64 runs natively on an x86_64 host, arm64 under QEMU) and each number of sessions, a
fresh server is started and `sqlclients.sh mixed` (recipes/mysql57/tests, the load test's client) runs that
many sessions at once for a fixed time: each a transaction writing a row and a counter, then reads checked as
they come. Afterwards the rows of every session are counted against the writes the server acknowledged.
The clients run in a container of --client-image (default: the first image given of this machine's
architecture, so that clients are native and the server's own speed is measured; else the image itself).

No figure is judged: the script prints them. Errors and lost writes are counted, not hidden.
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "recipes" / "mysql57" / "tests")]

PASSWORD = "bench-pw"


def image_machine(client, image: str) -> str:
    """The image's architecture as `uname -m` names it."""
    from mysqlbuild.archs import get_arch

    return get_arch(client.images.get(image).attrs["Architecture"]).rpm


def main() -> int:
    import docker

    from imagetest import Servers, load_schema

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", help="images to measure, e.g. mysql:5.7.44-amd64 mysql:5.7.44-arm64")
    parser.add_argument("--sessions", default="8,32,64", help="session counts, comma list (default 8,32,64)")
    parser.add_argument("--seconds", type=int, default=30, help="how long the sessions run (default 30)")
    parser.add_argument("--client-image", default="", help="image whose mysql client the sessions use")
    args = parser.parse_args()
    counts = [int(n) for n in args.sessions.split(",") if n.strip()]
    client = docker.from_env(version="auto", timeout=300)
    machines = {image: image_machine(client, image) for image in args.images}
    native = next((image for image, machine in machines.items() if machine == platform.machine()), "")
    client_image = args.client_image or native

    rows = []
    for image in args.images:
        where = "natively" if machines[image] == platform.machine() else "under QEMU"
        for sessions in counts:
            servers = Servers(client, image)
            try:
                server = servers.start(
                    env={"MYSQL_ROOT_PASSWORD": PASSWORD, "MYSQL_DATABASE": "load", "MYSQL_INITDB_SKIP_TZINFO": "1"},
                    command=["mysqld", f"--max-connections={sessions + 20}"],
                    init_files={"01-schema.sql": (load_schema(sessions), 0o644)}).wait_ready(timeout=600)
                print(f"{image} ({machines[image]}, {where}): {sessions} sessions for {args.seconds} s, clients "
                      f"from {client_image or image} ...", flush=True)
                run = servers.load(server, sessions, args.seconds, password=PASSWORD, client_image=client_image or None)
            finally:
                servers.cleanup()
            lost = sum(acked - found for acked, found, _ in run.lost.values())
            rows.append((image, f"{machines[image]} {where}", sessions, run.connections, run.queries,
                         run.per_second, run.errors, lost))
            print(f"  {run.connections} connections, {run.queries} queries in {run.elapsed:.1f} s, "
                  f"{run.per_second:.0f} per second, {run.errors} errors, {lost} writes lost"
                  + (f"\n  errors:\n{run.err[-2000:]}" if run.err.strip() else ""), flush=True)

    # connections: the most at once (Max_used_connections), the sessions and the bench's own queries.
    print(f"\n{args.seconds} s per run\n")
    print("| image | runs | sessions | connections | queries | queries/s | errors | lost writes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for image, where, sessions, connections, queries, per_second, errors, lost in rows:
        print(f"| {image} | {where} | {sessions} | {connections} | {queries} | {per_second:.0f} | {errors} | {lost} |")
    return 1 if any(row[6] or row[7] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
