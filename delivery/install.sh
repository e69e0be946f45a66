#!/bin/sh
# install.sh of a mysqlbuild offline bundle: run it on the target host, as root.
#
#   sh install.sh            check every checksum, then load the image when Docker
#                            answers, otherwise install the RPMs (yum, dnf or rpm)
#   sh install.sh --check    only check the checksums
#   sh install.sh --image    only load the image
#   sh install.sh --rpms     only install the RPMs
#
# Nothing is touched before every file of the bundle has passed its sha256 check.
# Running it again changes nothing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

note() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,11s/^# \{0,1\}//p' "$0"
}

verify_bundle() {
    command -v sha256sum >/dev/null 2>&1 || die "sha256sum is missing (package coreutils); nothing was installed"
    [ -f SHA256SUMS ] || die "SHA256SUMS is missing: this is not a complete bundle; copy it again"
    if ! report=$(sha256sum -c SHA256SUMS 2>&1); then
        bad=$(printf '%s\n' "$report" | grep -v ': OK$' || true)
        die "checksum check failed, nothing was installed:
$bad
copy the bundle again from the build machine (compare the .tar.gz with its .sha256)"
    fi
    note "all $(grep -c . SHA256SUMS) files match SHA256SUMS"
}

docker_answers() {
    command -v docker >/dev/null 2>&1 && docker version >/dev/null 2>&1
}

load_image() {
    docker_answers || die "Docker does not answer here: start it (systemctl start docker), or install the RPMs: sh install.sh --rpms"
    loaded_id=$(docker image inspect --format '{{.Id}}' "$IMAGE_TAG" 2>/dev/null || true)
    expected_id=$(sed -n 's/^ *"id": "\(sha256:[0-9a-f]*\)".*/\1/p' manifest.json | head -n 1)
    if [ -n "$loaded_id" ] && [ "$loaded_id" = "$expected_id" ]; then
        note "image $IMAGE_TAG is already loaded ($loaded_id)"
    else
        note "loading $IMAGE_ARCHIVE"
        docker load -i "$IMAGE_ARCHIVE"
    fi
    arch=$(docker image inspect --format '{{.Architecture}}' "$IMAGE_TAG") \
        || die "docker load did not produce $IMAGE_TAG"
    [ "$arch" = "$IMAGE_ARCH" ] || die "image $IMAGE_TAG is $arch, expected $IMAGE_ARCH"
    host=$(uname -m)
    if [ "$host" != "$RPM_ARCH" ]; then
        note "warning: this host is $host and the image is $IMAGE_ARCH: it runs only under emulation here"
    fi
    note "image $IMAGE_TAG ($arch) is ready; run it with:"
    printf '    %s\n' "$RUN_EXAMPLE"
}

install_rpms() {
    host=$(uname -m)
    [ "$host" = "$RPM_ARCH" ] || die "these RPMs are for $RPM_ARCH and this host is $host; nothing was installed"
    # shellcheck disable=SC2086 # RPM_FILES is a list of file names without spaces
    set -- $RPM_FILES
    missing=0
    for file in "$@"; do
        nevr=$(rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}' "$file")
        rpm -q "$nevr" >/dev/null 2>&1 || missing=1
    done
    if [ "$missing" -eq 0 ]; then
        note "every package of the bundle is already installed"
        return
    fi
    if command -v dnf >/dev/null 2>&1; then
        note "installing with dnf: $*"
        dnf install -y "$@"
    elif command -v yum >/dev/null 2>&1; then
        note "installing with yum: $*"
        yum localinstall -y "$@"
    elif command -v rpm >/dev/null 2>&1; then
        note "installing with rpm, in order: $*"
        rpm -Uvh "$@"
    else
        die "neither yum, dnf nor rpm is here to install the RPMs"
    fi
    note "installed; start the server with: systemctl start mysqld (or: mysqld --user=mysql &)"
}

mode=auto
case "${1:-}" in
    "") ;;
    --check|--image|--rpms) mode=${1#--} ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
esac

verify_bundle
# bundle.env was just verified with the rest; it holds IMAGE_TAG, IMAGE_ARCHIVE, IMAGE_ARCH, RPM_ARCH, RPM_FILES, RUN_EXAMPLE.
# shellcheck source=/dev/null
. ./bundle.env

case "$mode" in
    check) note "bundle is intact; nothing installed" ;;
    image) load_image ;;
    rpms) install_rpms ;;
    auto)
        if docker_answers; then
            load_image
        elif command -v rpm >/dev/null 2>&1; then
            note "Docker does not answer here: installing the RPMs instead"
            install_rpms
        else
            die "neither Docker nor rpm is on this host: install Docker, or use an RPM-based system"
        fi
        ;;
esac
