#!/bin/bash
# docker-entrypoint.sh: first process of the mysqlbuild MySQL 5.7 image.
#
# Behaves like the entrypoint of the official mysql:5.7 image (same variables,
# same init-file rules, same handling of arguments) and also:
#   - waits for the temporary init server as long as MYSQL_INIT_WAIT_SECONDS
#     (default 300 s: enough for an arm64 image emulated by QEMU);
#   - MYSQL_ONETIME_PASSWORD expires every root account that exists;
#   - never touches a data directory that already holds data;
#   - initialises into a folder inside the volume (.init-in-progress) and
#     moves the result into place only when everything succeeded, so an
#     interrupted or failed initialisation is reported on the next start,
#     never silently reused;
#   - initialises MySQL (mysqld --initialize-insecure) or MariaDB
#     (mariadb-install-db), whichever server the image holds;
#   - keeps the passwords out of every process environment and command line
#     it makes: its clients read root's password from an option file on a
#     pipe (--defaults-extra-file=/dev/fd/N), the step from root to the mysql
#     user passes them on a pipe too; only executable init scripts get them
#     in their environment, as with the official image.
# Needs bash and common POSIX tools only; drops privileges with gosu.
#
# Sourcing this file defines the functions and runs nothing (for tests).

set -Eeo pipefail

readonly INITDB_DIR=/docker-entrypoint-initdb.d
readonly INIT_FOLDER_NAME=.init-in-progress
readonly HEALTHCHECK_CNF_NAME=.healthcheck.cnf
MYSQL_INIT_WAIT_SECONDS_DEFAULT=300

# --- messages -------------------------------------------------------------------

_log() {
	local level=$1
	shift
	printf '%s [%s] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$level" "$*"
}

mysql_note() {
	_log Note "$@"
}

mysql_warn() {
	_log Warn "$@" >&2
}

# Print an error (and optional lines of advice) and exit 1.
mysql_error() {
	_log ERROR "$1" >&2
	shift
	local line
	for line in "$@"; do
		printf '    %s\n' "$line" >&2
	done
	exit 1
}

# --- environment ----------------------------------------------------------------

# The variables that hold passwords. The entrypoint keeps them as shell
# variables, never exported, so that no program it starts inherits them
# (executable init files excepted: mysql_process_init_file).
readonly SECRET_VARS=(MYSQL_ROOT_PASSWORD MYSQL_PASSWORD)

_is_secret() {
	local var
	for var in "${SECRET_VARS[@]}"; do
		[ "$1" = "$var" ] && return 0
	done
	return 1
}

# file_env VAR [DEFAULT]: VAR comes from $VAR, or from the file named by
# $VAR_FILE (Docker secrets), or DEFAULT. Setting both is an error.
# Passwords stay unexported; the other values are exported.
file_env() {
	local var=$1 default=${2:-}
	local file_var="${var}_FILE"
	local value=${!var:-} file=${!file_var:-}
	if [ -n "${!var+x}" ] && [ -n "${!file_var+x}" ]; then
		mysql_error "both $var and $file_var are set; they exclude each other" \
			"keep one: $var holds the value itself, $file_var names a file that holds it"
	fi
	if [ -n "$file" ]; then
		if [ ! -f "$file" ] || [ ! -r "$file" ]; then
			mysql_error "$file_var=$file: no such readable file (running as uid $(id -u))" \
				"mount the file into the container (docker run -v or a secret) and make it readable"
		fi
		value=$(<"$file")
	fi
	[ -n "$value" ] || value=$default
	if _is_secret "$var"; then
		printf -v "$var" '%s' "$value"
		export -n "${var:?}"
	else
		export "$var=$value"
	fi
	unset "$file_var"
}

# Read every variable that has a _FILE form; MYSQL_ROOT_HOST defaults to %.
mysql_setup_env() {
	file_env MYSQL_ROOT_PASSWORD
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	file_env MYSQL_ROOT_HOST '%'
}

# The secrets are not needed once the data directory exists: keep them out of
# mysqld's environment.
mysql_forget_secrets() {
	unset "${SECRET_VARS[@]}"
}

# From now on no program this script starts inherits a password from its
# environment (docker run -e MYSQL_ROOT_PASSWORD=... puts it there).
mysql_unexport_secrets() {
	export -n "${SECRET_VARS[@]}" MYSQL_PWD
}

# The step from root to the mysql user (gosu) passes the passwords on a pipe
# (descriptor 3, its number in _MYSQLBUILD_SECRETS_FD), NUL-separated: not in
# the environment of gosu or of the script it starts again.
_write_secrets() {
	local var
	for var in "${SECRET_VARS[@]}"; do
		printf '%s\0' "${!var:-}"
	done
}

# Read what _write_secrets wrote, when this run was started by the root one.
mysql_receive_secrets() {
	local fd=${_MYSQLBUILD_SECRETS_FD:-} var value
	unset _MYSQLBUILD_SECRETS_FD
	case "$fd" in
		'' | *[!0-9]*) return 0 ;;
	esac
	for var in "${SECRET_VARS[@]}"; do
		value=
		IFS= read -r -d '' value <&"$fd" || true
		if [ -n "$value" ]; then
			printf -v "$var" '%s' "$value"
			export -n "${var:?}"
		fi
	done
	exec {fd}<&-
}

# --- arguments and server configuration ---------------------------------------

_is_sourced() {
	[ "${#FUNCNAME[@]}" -ge 2 ] && [ "${FUNCNAME[0]}" = _is_sourced ] && [ "${FUNCNAME[1]}" = source ]
}

_is_server() {
	case "${1##*/}" in
		mysqld | mariadbd) return 0 ;;
	esac
	return 1
}

# True when the arguments only ask the server for help or its version.
_wants_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?' | --help | --print-defaults | -V | --version) return 0 ;;
		esac
	done
	return 1
}

# Ask the server for its effective configuration (this also validates the
# configuration files and the arguments). Sets SERVER_FLAVOR (mysql or
# mariadb), DATADIR and SOCKET.
mysql_read_config() {
	local output index errors
	# The binary log index goes to a throw-away path: with --log-bin given,
	# some servers create it in the data directory even for --help.
	index="$(mktemp -u)"
	errors="$(mktemp)"
	if ! output=$("$@" --verbose --help --log-bin-index="$index" 2>"$errors"); then
		output=$(tail -n 20 "$errors")
		rm -f "$index" "$errors"
		mysql_error "the server refused its configuration: '$* --verbose --help' failed" \
			"$output" \
			"fix the option named above in /etc/my.cnf, /etc/mysql/conf.d/ or the arguments"
	fi
	rm -f "$index" "$errors"
	case "$(grep -m 1 ' Ver ' <<<"$output")" in
		*MariaDB*) SERVER_FLAVOR=mariadb ;;
		*) SERVER_FLAVOR=mysql ;;
	esac
	DATADIR=$(_config_value datadir <<<"$output")
	SOCKET=$(_config_value socket <<<"$output")
	DATADIR=${DATADIR%/}
	if [ -z "$DATADIR" ] || [ -z "$SOCKET" ]; then
		mysql_error "could not read datadir and socket from '$* --verbose --help'" \
			"check that $1 is a MySQL or MariaDB server"
	fi
	# Read once: the run as root passes these on to the run under gosu.
	_MYSQLBUILD_CONFIG_READ=1
	export DATADIR SOCKET SERVER_FLAVOR _MYSQLBUILD_CONFIG_READ
}

# The value of one variable in the table printed by `mysqld --verbose --help`.
_config_value() {
	awk -v name="$1" '$1 == name && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

# --- the data directory -----------------------------------------------------------

# ENTRIES: every entry of folder $1, hidden ones included ("." and ".." excepted).
_entries() {
	local entry
	ENTRIES=()
	for entry in "$1"/* "$1"/.[!.]* "$1"/..?*; do
		[ -e "$entry" ] || [ -L "$entry" ] || continue
		ENTRIES+=("$entry")
	done
}

# 32 hexadecimal digits from the kernel's random source.
_random_password() {
	od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}

# What the data directory holds: missing, empty, ready, half or foreign.
mysql_datadir_state() {
	local dir=$DATADIR entry
	if [ ! -e "$dir" ]; then
		echo missing
		return
	fi
	if [ -e "$dir/$INIT_FOLDER_NAME" ]; then
		echo half
		return
	fi
	if [ -d "$dir/mysql" ]; then
		echo ready
		return
	fi
	_entries "$dir"
	for entry in ${ENTRIES[@]+"${ENTRIES[@]}"}; do
		[ "${entry##*/}" = lost+found ] && continue
		echo foreign
		return
	done
	echo empty
}

# As root: create the data and socket folders for the mysql user, without
# changing a data directory that holds anything.
mysql_prepare_dirs() {
	local state socket_dir=${SOCKET%/*}
	mkdir -p "$socket_dir"
	chown mysql:mysql "$socket_dir"
	state=$(mysql_datadir_state)
	case "$state" in
		missing | empty)
			mkdir -p "$DATADIR"
			chown mysql:mysql "$DATADIR"
			;;
		*)
			if [ "$(stat -c %u "$DATADIR")" != "$(id -u mysql)" ]; then
				mysql_warn "$DATADIR belongs to uid $(stat -c %u "$DATADIR"), not to mysql ($(id -u mysql));" \
					"it holds data, so it is left as it is: if the server cannot use it, run" \
					"'chown -R $(id -u mysql):$(id -g mysql)' on it from the host"
			fi
			;;
	esac
}

# Up to five names in folder $1, for messages.
_first_entries() {
	local entry names=()
	_entries "$1"
	for entry in ${ENTRIES[@]+"${ENTRIES[@]}"}; do
		names+=("${entry##*/}")
		[ "${#names[@]}" -lt 5 ] || break
	done
	echo "${names[*]}"
}

# Stop with advice unless the data directory can be used.
mysql_check_datadir() {
	local state=$1
	case "$state" in
		half)
			mysql_error "$DATADIR is half-initialised: an earlier initialisation was interrupted or failed" \
				"($DATADIR/$INIT_FOLDER_NAME is still there), so it is not used." \
				"Read that earlier container's log for the cause, then empty the volume (or use a new one)" \
				"and start again. Nothing was changed in $DATADIR."
			;;
		foreign)
			mysql_error "$DATADIR holds files but no MySQL data (no mysql/ folder); it is left untouched" \
				"point the container at an empty volume, or at a data directory made by MySQL 5.7" \
				"(entries found: $(_first_entries "$DATADIR"))"
			;;
		ready)
			mysql_check_datadir_origin
			;;
	esac
}

# A data directory MariaDB wrote, opened by MySQL: MySQL 5.7 does not refuse it
# with a message but crashes (signal 11 in buf_page_is_corrupted, on MariaDB's
# page checksums) before it writes anything. Say so instead, and leave it.
mysql_check_datadir_origin() {
	[ "$SERVER_FLAVOR" = mysql ] || return 0
	if [ -e "$DATADIR/aria_log_control" ]; then
		mysql_error "$DATADIR was written by MariaDB (it holds aria_log_control): MySQL cannot open it," \
			"so it is left untouched. Move the data with a logical dump instead: mysqldump --all-databases" \
			"(or mariadb-dump) on the MariaDB server, then load the dump into this image on an empty volume" \
			"(as an init file in /docker-entrypoint-initdb.d, or with the mysql client)."
	fi
}

# --- checks before initialising -------------------------------------------------------

_is_true() {
	[ -n "${1:-}" ]
}

mysql_check_init_env() {
	if ! _is_true "${MYSQL_ROOT_PASSWORD:-}" && ! _is_true "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" \
		&& ! _is_true "${MYSQL_RANDOM_ROOT_PASSWORD:-}"; then
		mysql_error "the database is not initialised and no password option is given" \
			"set one of MYSQL_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD_FILE)," \
			"MYSQL_RANDOM_ROOT_PASSWORD=yes or MYSQL_ALLOW_EMPTY_PASSWORD=yes"
	fi
	if [ "${MYSQL_USER:-}" = root ]; then
		mysql_error "MYSQL_USER=root: MYSQL_USER and MYSQL_PASSWORD create a regular user, not root" \
			"remove MYSQL_USER (root is configured by MYSQL_ROOT_PASSWORD and MYSQL_ROOT_HOST)," \
			"or name another user"
	fi
	if [ -n "${MYSQL_USER:-}" ] && [ -z "${MYSQL_PASSWORD:-}" ]; then
		mysql_warn "MYSQL_USER is set but MYSQL_PASSWORD is not: user '$MYSQL_USER' is not created"
	fi
	if [ -z "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
		mysql_warn "MYSQL_PASSWORD is set but MYSQL_USER is not: no user is created"
	fi
	local wait=${MYSQL_INIT_WAIT_SECONDS:-$MYSQL_INIT_WAIT_SECONDS_DEFAULT}
	case "$wait" in
		'' | *[!0-9]*)
			mysql_error "MYSQL_INIT_WAIT_SECONDS=$wait is not a whole number of seconds" \
				"give the seconds to wait for the temporary server, e.g. 600"
			;;
	esac
	if [ ! -w "$DATADIR" ] || [ ! -x "$DATADIR" ]; then
		mysql_error "$DATADIR is not writable by uid $(id -u) (owner uid $(stat -c %u "$DATADIR"))" \
			"run the container as the owner of the volume (--user), or chown it to 999:999"
	fi
}

# --- SQL helpers ----------------------------------------------------------------------

# A string literal: quote doubled, backslash doubled (NO_BACKSLASH_ESCAPES is
# switched off in every session this script opens).
mysql_sql_string() {
	local value=${1//\\/\\\\}
	printf "'%s'" "${value//\'/\'\'}"
}

# An identifier: backquote doubled.
mysql_sql_name() {
	local quote='`'
	printf '%s%s%s' "$quote" "${1//$quote/$quote$quote}" "$quote"
}

_client_bin() {
	local name
	for name in mysql mariadb; do
		if command -v "$name" >/dev/null 2>&1; then
			echo "$name"
			return
		fi
	done
	mysql_error "no mysql client in the image" "the image needs the mysql (or mariadb) command line client"
}

# An option file value: double-quoted, with backslash, double quote, newline
# and carriage return escaped as MySQL's and MariaDB's option file readers
# undo them (mysys my_default), so any password survives, '#' included.
mysql_option_value() {
	local value=${1//\\/\\\\}
	value=${value//\"/\\\"}
	value=${value//$'\n'/\\n}
	value=${value//$'\r'/\\r}
	printf '"%s"' "$value"
}

# The client's option file: root's password, when it has one yet.
_client_option_file() {
	printf '[client]\n'
	if [ -n "${_ROOT_PASSWORD_NOW:-}" ]; then
		printf 'password=%s\n' "$(mysql_option_value "$_ROOT_PASSWORD_NOW")"
	fi
}

# docker_process_sql [--database=NAME] [client options]: run SQL from stdin
# as root on the temporary server. Sourced init scripts may use it, and the
# array "mysql" (the client command line) as the official image offers.
# The client reads the password from a pipe only it holds, as its first
# option (--defaults-extra-file=/dev/fd/N), with no password in its
# environment or on its command line.
docker_process_sql() {
	(
		export -n "${SECRET_VARS[@]}" MYSQL_PWD
		exec "${mysql[0]}" --defaults-extra-file=<(_client_option_file) "${mysql[@]:1}" "$@"
	)
}

# Run SQL from stdin in MYSQL_DATABASE when set (how init files are run).
_process_sql_in_database() {
	if [ -n "${MYSQL_DATABASE:-}" ]; then
		docker_process_sql --database="$MYSQL_DATABASE"
	else
		docker_process_sql
	fi
}

_set_client() {
	mysql=("$(_client_bin)" --protocol=socket --socket="$SOCKET" --user=root --host=localhost
		--init-command="SET @@SESSION.sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
}

# --- the temporary server ------------------------------------------------------------------

# Make the system tables in folder $1; the rest of the arguments are the server command.
mysql_install_db() {
	local folder=$1
	shift
	local server=$1
	shift
	if [ "$SERVER_FLAVOR" = mariadb ]; then
		local installer
		installer=$(command -v mariadb-install-db || command -v mysql_install_db || true)
		[ -n "$installer" ] || mysql_error "MariaDB server without mariadb-install-db or mysql_install_db"
		_run_child "$installer" --datadir="$folder" --auth-root-authentication-method=normal --skip-test-db \
			--default-time-zone=SYSTEM "$@"
	else
		_run_child "$server" "$@" --initialize-insecure --datadir="$folder" --default-time-zone=SYSTEM
	fi
}

# Start the server on folder $1 with no network, on the usual socket (init
# scripts written for the official image connect through it).
mysql_temp_server_start() {
	local folder=$1
	shift
	_set_client
	"$@" --datadir="$folder" --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM &
	_TEMP_SERVER_PID=$!
	local wait=${MYSQL_INIT_WAIT_SECONDS:-$MYSQL_INIT_WAIT_SECONDS_DEFAULT} waited=0
	mysql_note "waiting up to $wait s for the temporary server (MYSQL_INIT_WAIT_SECONDS)"
	until docker_process_sql --connect-timeout=5 -e 'SELECT 1' >/dev/null 2>&1; do
		if ! kill -0 "$_TEMP_SERVER_PID" 2>/dev/null; then
			local status=0
			wait "$_TEMP_SERVER_PID" || status=$?
			_TEMP_SERVER_PID=
			mysql_error "the temporary server exited with status $status before it accepted connections" \
				"its messages are above in this log"
		fi
		if [ "$waited" -ge "$wait" ]; then
			mysql_error "the temporary server did not accept connections within $wait s" \
				"under emulation (QEMU) or on slow disks raise MYSQL_INIT_WAIT_SECONDS, e.g. to 900"
		fi
		sleep 1
		waited=$((waited + 1))
	done
	mysql_note "temporary server ready after about $waited s"
}

# Stop the temporary server with SIGTERM (a clean shutdown) and wait for it.
mysql_temp_server_stop() {
	[ -n "${_TEMP_SERVER_PID:-}" ] || return 0
	local pid=$_TEMP_SERVER_PID status=0
	_TEMP_SERVER_PID=
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || status=$?
	if [ "$status" -ne 0 ]; then
		mysql_error "the temporary server stopped with status $status instead of shutting down cleanly"
	fi
}

# --- what initialisation does on the temporary server ------------------------------------

_root_accounts_to_drop_sql() {
	# Everything but root@localhost and the servers' own system accounts.
	docker_process_sql -N -B -r <<-'EOSQL'
		SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user
		WHERE NOT ((User = 'root' AND Host = 'localhost')
		  OR User IN ('mysql.sys', 'mysql.session', 'mysql.infoschema', 'mariadb.sys'));
	EOSQL
}

mysql_setup_accounts() {
	local drops root_password=${MYSQL_ROOT_PASSWORD:-}
	if [ -z "$root_password" ] && _is_true "${MYSQL_RANDOM_ROOT_PASSWORD:-}"; then
		root_password=$(_random_password)
		echo "GENERATED ROOT PASSWORD: $root_password"
	fi
	drops=$(_root_accounts_to_drop_sql)
	local pw
	pw=$(mysql_sql_string "$root_password")
	{
		echo "SET @@SESSION.SQL_LOG_BIN = 0;"
		printf '%s\n' "$drops"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
		if [ "$MYSQL_ROOT_HOST" != localhost ]; then
			local host
			host=$(mysql_sql_string "$MYSQL_ROOT_HOST")
			echo "CREATE USER 'root'@$host IDENTIFIED BY $pw;"
			echo "GRANT ALL ON *.* TO 'root'@$host WITH GRANT OPTION;"
		fi
		echo "DROP DATABASE IF EXISTS test;"
		echo "FLUSH PRIVILEGES;"
	} | docker_process_sql
	_ROOT_PASSWORD_NOW=$root_password
	if [ -n "${MYSQL_DATABASE:-}" ]; then
		mysql_note "creating database $MYSQL_DATABASE"
		echo "CREATE DATABASE IF NOT EXISTS $(mysql_sql_name "$MYSQL_DATABASE");" | docker_process_sql
	fi
	if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
		mysql_note "creating user $MYSQL_USER"
		local user
		user="$(mysql_sql_string "$MYSQL_USER")@'%'"
		{
			echo "CREATE USER $user IDENTIFIED BY $(mysql_sql_string "$MYSQL_PASSWORD");"
			if [ -n "${MYSQL_DATABASE:-}" ]; then
				echo "GRANT ALL ON $(mysql_sql_name "$MYSQL_DATABASE").* TO $user;"
			fi
			echo "FLUSH PRIVILEGES;"
		} | docker_process_sql
	fi
}

# An account for the health check, with a random password kept in the data
# directory (mode 0600): healthcheck.sh logs in with it, so the check neither
# needs a password in the image nor fills the log with refused logins.
mysql_setup_healthcheck() {
	local folder=$1 password
	password=$(_random_password)
	echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$password';" | docker_process_sql
	(
		umask 077
		printf '[client]\nuser=healthcheck\npassword=%s\n' "$password" >"$folder/$HEALTHCHECK_CNF_NAME"
	)
}

_tzinfo_bin() {
	command -v mysql_tzinfo_to_sql || command -v mariadb-tzinfo-to-sql || true
}

# Time zone tables, so that named zones work (skipped with MYSQL_INITDB_SKIP_TZINFO).
mysql_load_tzinfo() {
	if _is_true "${MYSQL_INITDB_SKIP_TZINFO:-}"; then
		mysql_note "MYSQL_INITDB_SKIP_TZINFO is set: time zone tables not loaded"
		return
	fi
	local bin
	bin=$(_tzinfo_bin)
	if [ -z "$bin" ] || [ ! -d /usr/share/zoneinfo ]; then
		mysql_warn "no mysql_tzinfo_to_sql or /usr/share/zoneinfo in the image: time zone tables not loaded"
		return
	fi
	mysql_note "loading time zone tables from /usr/share/zoneinfo"
	# The Factory zone's abbreviation is longer than the column in strict mode.
	"$bin" /usr/share/zoneinfo 2>/dev/null \
		| sed 's/Local time zone must be set--see zic manual page/FCTY/' \
		| docker_process_sql --database=mysql
}

# Run a command in the background and wait for it: unlike a foreground
# command, `wait` lets a stop signal's trap run at once (and stop the child).
_run_child() {
	"$@" <&0 &
	_CHILD_PID=$!
	local status=0
	wait "$_CHILD_PID" || status=$?
	_CHILD_PID=
	return "$status"
}

# Decompress file $2 with command $1 into the client, in MYSQL_DATABASE.
_process_compressed() {
	"$1" -dc "$2" | _process_sql_in_database
}

# Run one file of /docker-entrypoint-initdb.d. Sourced scripts run in this
# shell: a stop signal waits for the command they are running.
mysql_process_init_file() {
	local file=$1
	case "$file" in
		*.sh)
			# Init scripts written for the official image read the passwords
			# from their environment: only they get them there.
			export "${SECRET_VARS[@]}"
			if [ -x "$file" ]; then
				mysql_note "running $file"
				_run_child "$file"
			else
				mysql_note "sourcing $file"
				# shellcheck disable=SC1090
				. "$file"
			fi
			mysql_unexport_secrets
			;;
		*.sql)
			mysql_note "running $file"
			_run_child _process_sql_in_database <"$file"
			;;
		*.sql.gz)
			mysql_note "running $file"
			_run_child _process_compressed gzip "$file"
			;;
		*.sql.bz2)
			mysql_note "running $file"
			_run_child _process_compressed bzip2 "$file"
			;;
		*.sql.xz)
			mysql_note "running $file"
			_run_child _process_compressed xz "$file"
			;;
		*.sql.zst)
			mysql_note "running $file"
			_run_child _process_compressed zstd "$file"
			;;
		*)
			mysql_warn "ignoring $file (not .sh, .sql, .sql.gz, .sql.bz2, .sql.xz or .sql.zst)"
			;;
	esac
}

# The files of /docker-entrypoint-initdb.d, one a line, in byte order (C locale).
mysql_init_files() {
	local LC_ALL=C file
	for file in "$INITDB_DIR"/*; do
		if [ -f "$file" ]; then
			printf '%s\n' "$file"
		fi
	done
}

mysql_run_init_files() {
	local file
	local -a files
	mapfile -t files < <(mysql_init_files)
	for file in "${files[@]}"; do
		_INIT_STEP="running $file"
		mysql_process_init_file "$file"
	done
}

# MYSQL_ONETIME_PASSWORD: every root account must change its password at first login.
mysql_expire_root() {
	_is_true "${MYSQL_ONETIME_PASSWORD:-}" || return 0
	local accounts
	accounts=$(docker_process_sql -N -B -r \
		-e "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE User = 'root'")
	[ -n "$accounts" ] || return 0
	mysql_note "expiring the password of $(echo "$accounts" | tr '\n' ' ')"
	local account
	while IFS= read -r account; do
		echo "ALTER USER $account PASSWORD EXPIRE;"
	done <<<"$accounts" | docker_process_sql
}

# Move the finished data into place; removing the folder is the last step.
mysql_commit_datadir() {
	local folder=$1 entry
	sync
	_entries "$folder"
	for entry in ${ENTRIES[@]+"${ENTRIES[@]}"}; do
		mv "$entry" "$DATADIR/"
	done
	sync
	rmdir "$folder"
}

# On any exit during initialisation: stop the temporary server, say what
# failed and that the data directory stays marked as half-initialised.
_init_exit_trap() {
	local status=$?
	trap - EXIT
	if [ -n "${_TEMP_SERVER_PID:-}" ]; then
		kill -TERM "$_TEMP_SERVER_PID" 2>/dev/null || true
		wait "$_TEMP_SERVER_PID" 2>/dev/null || true
	fi
	[ "$status" -eq 0 ] && status=1
	_log ERROR "initialisation failed while ${_INIT_STEP:-initialising} (exit status $status)." >&2
	_log ERROR "$DATADIR stays marked as half-initialised ($INIT_FOLDER_NAME) and will not be used;" \
		"empty it (or use a new volume), fix the cause and start again." >&2
	exit "$status"
}

_init_signal_trap() {
	_INIT_STEP="$_INIT_STEP, when a stop signal arrived"
	if [ -n "${_CHILD_PID:-}" ]; then
		kill -TERM "$_CHILD_PID" 2>/dev/null || true
	fi
	exit 143
}

# Initialise an empty data directory; the arguments are the server command.
mysql_init_database() {
	local folder="$DATADIR/$INIT_FOLDER_NAME"
	_INIT_STEP="creating $folder"
	mkdir "$folder"
	trap _init_exit_trap EXIT
	trap _init_signal_trap TERM INT
	_INIT_STEP="creating the system tables ($SERVER_FLAVOR)"
	mysql_note "initialising $DATADIR ($SERVER_FLAVOR): $_INIT_STEP"
	mysql_install_db "$folder" "$@"
	_INIT_STEP="starting the temporary server"
	mysql_temp_server_start "$folder" "$@"
	_INIT_STEP="loading the time zone tables"
	mysql_load_tzinfo
	_INIT_STEP="setting up root, MYSQL_DATABASE and MYSQL_USER"
	mysql_setup_accounts
	mysql_setup_healthcheck "$folder"
	mysql_run_init_files
	_INIT_STEP="expiring the root password (MYSQL_ONETIME_PASSWORD)"
	mysql_expire_root
	_INIT_STEP="stopping the temporary server"
	mysql_temp_server_stop
	_INIT_STEP="moving the new data into $DATADIR"
	mysql_commit_datadir "$folder"
	trap - EXIT TERM INT
	_INIT_STEP=
	mysql_note "initialisation of $DATADIR done; starting the server"
}

# --- main ---------------------------------------------------------------------------------------

_main() {
	if [ "${1:0:1}" = - ]; then
		set -- mysqld "$@"
	fi
	if _is_server "$1" && ! _wants_help "$@"; then
		mysql_unexport_secrets
		mysql_receive_secrets
		if [ -z "${_MYSQLBUILD_CONFIG_READ:-}" ] || [ -z "${DATADIR:-}" ] || [ -z "${SOCKET:-}" ]; then
			mysql_read_config "$@"
		fi
		mysql_setup_env
		if [ "$(id -u)" = 0 ]; then
			mysql_prepare_dirs
			command -v gosu >/dev/null || mysql_error "gosu is missing from the image" \
				"the image must ship gosu to drop root privileges; or run with --user 999:999"
			mysql_note "switching to user mysql"
			export _MYSQLBUILD_SECRETS_FD=3
			exec gosu mysql "${BASH_SOURCE[0]}" "$@" 3< <(_write_secrets)
		fi
		local state
		state=$(mysql_datadir_state)
		mysql_check_datadir "$state"
		if [ "$state" = ready ]; then
			mysql_note "$DATADIR holds a database: initialisation skipped"
		else
			mysql_check_init_env
			mysql_init_database "$@"
		fi
		mysql_forget_secrets
	elif _is_server "$1" && [ "$(id -u)" = 0 ] && command -v gosu >/dev/null; then
		exec gosu mysql "$@"
	fi
	exec "$@"
}

if ! _is_sourced; then
	_main "$@"
fi
