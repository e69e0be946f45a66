#!/bin/bash
# watch-processes.sh: the secrets test's watcher, run as root (with CAP_SYS_PTRACE, which root needs to
# read the environment of other users' processes) from before the entrypoint starts.
#
# Every 20 ms it appends to /tmp/watch-hits each process whose environ or cmdline holds a line of
# /run/watch-patterns (the passwords; readable by root only, so no command line holds them), as
#   PID tree=TOP uid=UID held|passing environ|cmdline: COMMAND LINE
# where TOP is the first process of its tree: 1 for the entrypoint's, another pid for a `docker exec`, ?
# when it ended meanwhile; "held" when the file still held the password after TOP, UID and the command
# line were read (so they describe the process that held it), "passing" when it had changed or ended
# (an exec or an exit in between); and to /tmp/watch-seen the command lines of all processes.

# The first process of the tree of process $1 (its ancestor whose parent is 0).
tree_of() {
	local pid=$1 stat ppid
	while :; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || {
			echo "?"
			return
		}
		stat=${stat##*) }
		ppid=${stat#* }
		ppid=${ppid%% *}
		if [ "$ppid" = 0 ]; then
			echo "$pid"
			return
		fi
		pid=$ppid
	done
}

while :; do
	grep -a -l -F -f /run/watch-patterns /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null |
		while IFS= read -r file; do
			pid=${file#/proc/}
			pid=${pid%%/*}
			tree=$(tree_of "$pid")
			uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
			command=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
			state=passing
			if grep -q -a -F -f /run/watch-patterns "$file" 2>/dev/null; then
				state=held
			fi
			printf '%s tree=%s uid=%s %s %s: %s\n' "$pid" "$tree" "$uid" "$state" "${file##*/}" "$command"
		done >>/tmp/watch-hits
	grep -a -H '' /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' >>/tmp/watch-seen
	sleep 0.02
done
