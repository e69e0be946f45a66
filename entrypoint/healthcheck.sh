#!/bin/bash
# healthcheck.sh: the image's HEALTHCHECK. Exit 0 when the server answers on
# its socket, 1 otherwise (also while the first start initialises the data
# directory: the temporary server then runs on <datadir>/.init-in-progress).
#
# No password lives in the image: the entrypoint made a
# 'healthcheck'@'localhost' account (no privileges) at initialisation, with a
# random password in <datadir>/.healthcheck.cnf. For a data directory made
# elsewhere, which lacks that file, it falls back to a plain ping, which
# succeeds as soon as the server answers even if it refuses the login (the
# server then logs the refusal). The socket is the one of the [client]
# section of my.cnf; the data directory the one of its [mysqld] section.
set -o pipefail

admin=$(command -v mysqladmin || command -v mariadb-admin) || {
	echo "healthcheck: no mysqladmin in the image" >&2
	exit 1
}
datadir=$(my_print_defaults mysqld 2>/dev/null | sed -n 's/^--datadir=//p' | tail -n 1)
datadir=${datadir:-/var/lib/mysql}
datadir=${datadir%/}
if [ -e "$datadir/.init-in-progress" ]; then
	echo "healthcheck: $datadir is being initialised" >&2
	exit 1
fi
if [ -r "$datadir/.healthcheck.cnf" ]; then
	exec "$admin" --defaults-extra-file="$datadir/.healthcheck.cnf" --protocol=socket --connect-timeout=3 \
		ping >/dev/null
fi
exec "$admin" --protocol=socket --connect-timeout=3 --silent ping >/dev/null
