#!/usr/bin/env bash
# Prepare a Debian or Ubuntu machine (run as root) to run the pipeline and its tests:
#   Docker engine (Debian's docker.io, BuildKit built in), QEMU user emulation
#   registered in binfmt_misc, debootstrap, rpm tools and libarchive (RPM
#   payloads), createrepo_c, gnupg and rpmsign (signed yum repositories: invoke
#   repo), dnf (the tests read those repositories as a host does), shellcheck,
#   and the project in a virtual environment (.venv) with its test extra.
# Safe to run again: it installs only what is missing and starts dockerd only
# when no engine answers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup-host: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (sudo bash ci/setup-host.sh): I install packages and start dockerd"
command -v apt-get >/dev/null || die "this script knows Debian and Ubuntu (apt-get); on other systems install Docker, qemu-user-static, debootstrap, rpm and python3-venv by hand"

packages=(docker.io qemu-user-static binfmt-support debootstrap rpm libarchive13 rpmlint shellcheck python3-venv
          ca-certificates git iproute2 gosu docker-registry mariadb-client createrepo-c gnupg dnf)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The registry package starts a service on :5000 where systemd runs; tests start their own.
if command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then
    systemctl stop docker-registry || true
fi

# QEMU for foreign architectures: binfmt_misc mounted and the entries enabled.
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    say "mounting binfmt_misc"
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
case "$(uname -m)" in
    x86_64) wanted=qemu-aarch64 ;;
    aarch64) wanted=qemu-x86_64 ;;
    *) wanted= ;;
esac
if [ -n "$wanted" ] && ! grep -qs '^enabled' "/proc/sys/fs/binfmt_misc/$wanted"; then
    say "registering $wanted in binfmt_misc"
    update-binfmts --enable "$wanted" || update-binfmts --import "$wanted"
fi
if [ -n "$wanted" ]; then
    grep -qs '^enabled' "/proc/sys/fs/binfmt_misc/$wanted" || die "$wanted is not registered in binfmt_misc"
    grep -qs '^flags:.*F' "/proc/sys/fs/binfmt_misc/$wanted" || die "$wanted lacks the F flag: containers cannot use it"
fi

# A Docker engine that answers.
engine_up() { timeout 10 /usr/bin/docker info >/dev/null 2>&1; }
if ! engine_up; then
    if [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null; then
        say "started docker with systemd"
    else
        say "starting dockerd (log: /var/log/mysqlbuild-dockerd.log)"
        setsid nohup dockerd >/var/log/mysqlbuild-dockerd.log 2>&1 < /dev/null &
    fi
    for _ in $(seq 1 60); do
        engine_up && break
        sleep 1
    done
    engine_up || die "dockerd did not answer within 60 s; see /var/log/mysqlbuild-dockerd.log"
fi
say "Docker engine $(/usr/bin/docker version --format '{{.Server.Version}}') answers"

# The project, in a virtual environment.
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
fi
say "installing the project and its test extra into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
say "ready: .venv/bin/invoke --list"
