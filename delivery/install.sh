#!/bin/sh
# install.sh of a mysqlbuild offline bundle: run it on the target host, as root.
#
#   sh install.sh               check every checksum; then load the image where Docker
#                               answers; where it does not and the bundle carries Docker,
#                               install and start that Docker first; else install the RPMs
#   sh install.sh --check       only check the checksums (and, with --key, the signature)
#   sh install.sh --image       only load the image (Docker must answer)
#   sh install.sh --rpms        only install the RPMs: the bundle's yum repository goes to
#                               /var/lib/mysqlbuild-repo/, its .repo file to /etc/yum.repos.d/,
#                               its key into rpm; then yum or dnf installs (rpm alone where
#                               neither is here)
#   sh install.sh --docker      only install and start the bundle's Docker
#   sh install.sh --uninstall   remove what this script installed, and nothing else
#
# Options:
#   --key FILE        the public key of whoever made the bundle (from them, not from the
#                     bundle): SHA256SUMS.asc must be their signature, or nothing happens
#   --prefix DIR      Docker's binaries go to DIR (default /usr/local/bin)
#   --start-dockerd   where systemd does not run, start dockerd in the background
#   --force-docker    install the bundle's Docker although another Docker is here;
#                     files it replaces are kept and put back by --uninstall
#   --force           with --uninstall: remove our Docker although containers run on it
#
# Nothing is touched before every file of the bundle has passed its sha256 check (and,
# with --key, SHA256SUMS its signature check), and a second run changes nothing.  Every file it installs is recorded with its
# checksum in /var/lib/mysqlbuild-bundle/; /var/lib/mysqlbuild-bundle/uninstall.sh
# (a copy of this script) takes them back when the bundle is gone.
set -eu

STATE_DIR=/var/lib/mysqlbuild-bundle
RECORD=$STATE_DIR/installed
UNIT_DIR=/etc/systemd/system
REPOS_DIR=/etc/yum.repos.d
DAEMON_JSON=/etc/docker/daemon.json
DOCKERD_LOG=/var/log/mysqlbuild-dockerd.log

here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
cd "$here"

note() { printf '==> %s\n' "$*"; }
warn() { printf '==> warning: %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$self"
}

# --- small helpers -----------------------------------------------------------------------

sha256_of() { sha256sum "$1" | cut -d ' ' -f 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "run me as root (sudo sh $self${1:+ $1}): I change files under /usr, /etc and /var"
}

same_file() { [ -f "$1" ] && [ -f "$2" ] && [ "$(sha256_of "$1")" = "$(sha256_of "$2")" ]; }

systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

with_timeout() {
    if command -v timeout >/dev/null 2>&1; then timeout 30 "$@"; else "$@"; fi
}

docker_answers() {
    command -v "$DOCKER" >/dev/null 2>&1 || return 1
    server_version=$(with_timeout "$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null) || return 1
    case "$server_version" in [0-9]*) return 0 ;; esac
    return 1
}

wait_for_docker() {
    waited=0
    while [ "$waited" -lt "$1" ]; do
        docker_answers && return 0
        sleep 1
        waited=$((waited + 1))
    done
    return 1
}

# A process that runs: not gone, not a zombie (a process reaped while we look is gone).
alive() {
    state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
    [ -n "$state" ] && [ "$state" != Z ]
}

# Folders the Docker we start makes outside its data root (containerd's /opt/containerd):
# recorded like ours when they are not there yet, so --uninstall takes them back if empty.
note_runtime_dirs() {
    for d in /opt /opt/containerd /opt/containerd/bin /opt/containerd/lib; do
        [ -e "$d" ] || add_line "dir $d"
    done
}

on_path() {
    case ":$PATH:" in *":$1:"*) return 0 ;; esac
    return 1
}

# The record: one line per change, "file SHA256 PATH", "dir PATH", "backup PATH",
# "group NAME", "enabled UNIT", "prior UNIT STATE", "log PATH".
recorded_sum() {
    [ -f "$RECORD" ] || return 0
    awk -v p="$1" '$1 == "file" && $3 == p { s = $2 } END { if (s != "") print s }' "$RECORD"
}

has_line() { [ -f "$RECORD" ] && grep -qxF "$*" "$RECORD"; }

add_line() { has_line "$*" || printf '%s\n' "$*" >>"$RECORD"; }

record_file() {
    sum=$(sha256_of "$1")
    if [ -f "$RECORD" ]; then
        rewritten=$(mktemp "$STATE_DIR/.installed.XXXXXX")
        awk -v p="$1" '!($1 == "file" && $3 == p)' "$RECORD" >"$rewritten"
        mv -f "$rewritten" "$RECORD"
    fi
    printf 'file %s %s\n' "$sum" "$1" >>"$RECORD"
}

is_ours() {
    [ -f "$1" ] || return 1
    sum=$(recorded_sum "$1")
    [ -n "$sum" ] && [ "$sum" = "$(sha256_of "$1")" ]
}

info_value() { sed -n "s/^$1=//p" "$STATE_DIR/info" 2>/dev/null | tail -n 1; }

set_info() {
    rewritten=$(mktemp "$STATE_DIR/.info.XXXXXX")
    {
        if [ -f "$STATE_DIR/info" ]; then grep -v "^$1=" "$STATE_DIR/info" || true; fi
        printf '%s=%s\n' "$1" "$2"
    } >"$rewritten"
    mv -f "$rewritten" "$STATE_DIR/info"
}

# The state folder, if it is there, is root's alone: nobody else may have put files into it.
check_state_dir() {
    [ -e "$STATE_DIR" ] || [ -L "$STATE_DIR" ] || return 0
    if [ -L "$STATE_DIR" ] || [ -z "$(find "$STATE_DIR" -maxdepth 0 -type d -user 0 ! -perm -020 ! -perm -002)" ]; then
        die "$STATE_DIR must be a folder of root's that only root may write; it is not, so I stop before changing anything: look at it (ls -ld $STATE_DIR)"
    fi
}

start_record() {
    check_state_dir
    [ -e "$STATE_DIR" ] || mkdir -m 0755 "$STATE_DIR"
    if ! same_file "$self" "$STATE_DIR/uninstall.sh"; then
        copy=$(mktemp "$STATE_DIR/.uninstall.XXXXXX")
        cp "$self" "$copy"
        chmod 0755 "$copy"
        mv -f "$copy" "$STATE_DIR/uninstall.sh"
    fi
    [ -f "$RECORD" ] || : >"$RECORD"
}

make_dir() {
    [ -d "$1" ] && return 0
    make_dir "$(dirname "$1")"
    mkdir "$1"
    add_line "dir $1"
}

existing_parent() {
    d=$1
    while [ ! -d "$d" ]; do d=$(dirname "$d"); done
    printf '%s\n' "$d"
}

# Put NEW at DEST through a temporary name in DEST's folder (so a failure leaves no half
# file, and the file gets the folder's SELinux label), keeping a foreign DEST as a backup.
put_file() {
    new=$1 dest=$2 mode=$3
    if [ -e "$dest" ] && ! is_ours "$dest"; then
        mkdir -p "$STATE_DIR/backup$(dirname "$dest")"
        cp -p "$dest" "$STATE_DIR/backup$dest"
        add_line "backup $dest"
    fi
    pending=$(mktemp "$dest.XXXXXX")     # a new name of our own: nobody could have put a file there
    cp "$new" "$pending"
    chmod "$mode" "$pending"
    mv -f "$pending" "$dest"
    pending=
    record_file "$dest"
    if command -v restorecon >/dev/null 2>&1; then restorecon "$dest" 2>/dev/null || true; fi
}

# --- the bundle ------------------------------------------------------------------------

# Who made the bundle: SHA256SUMS.asc must be a signature of SHA256SUMS by the key in the file given
# with --key, checked in a keyring of our own made for this run (the host's keyrings are not read).
verify_signature() {
    [ -f "$key" ] || die "--key $key: no such file; nothing was installed"
    [ -f SHA256SUMS.asc ] || die "this bundle is not signed (it has no SHA256SUMS.asc), and --key asks for a signed one; nothing was installed.
ask its maker for a signed bundle (invoke bundle --gpg-key KEY); without --key I only check that the files are intact, not who made them"
    gpg=$(command -v gpg2 || command -v gpg || true)
    [ -n "$gpg" ] || die "gpg is missing here (package gnupg2): it checks the bundle's signature; nothing was installed"
    gnupg=$(mktemp -d "${TMPDIR:-/tmp}/mysqlbuild-gpg.XXXXXX")
    if ! "$gpg" --batch --no-tty --homedir "$gnupg" --import "$key" >"$gnupg/import.log" 2>&1; then
        die "$key holds no public key gpg can read; nothing was installed:
$(tail -n 3 "$gnupg/import.log")"
    fi
    given=$("$gpg" --batch --no-tty --homedir "$gnupg" --with-colons --fingerprint 2>/dev/null \
        | awk -F : '$1 == "fpr" { printf "%s%s", sep, $10; sep = ", " }')
    status=$("$gpg" --batch --no-tty --homedir "$gnupg" --trust-model always --status-fd 1 \
        --verify SHA256SUMS.asc SHA256SUMS 2>"$gnupg/verify.log" || true)
    signer=$(printf '%s\n' "$status" | awk '$2 == "VALIDSIG" { print $3; exit }')
    case "$status" in
        *"[GNUPG:] BADSIG "*)
            die "the signature does not match SHA256SUMS: the list of checksums was changed after it was signed; nothing was installed.
do not use this bundle: get it again from its maker" ;;
        *"[GNUPG:] NO_PUBKEY "*)
            other=$(printf '%s\n' "$status" | awk '$2 == "NO_PUBKEY" { print $3; exit }')
            die "SHA256SUMS.asc was made with the key $other, not with the key you gave ($given); nothing was installed.
check that --key is the right key; if it is, this bundle was not made by its holder" ;;
        *"[GNUPG:] EXPKEYSIG "*) die "the key that signed the bundle has expired ($given); nothing was installed.
ask its holder for the key with its new expiry date, or for a bundle signed with a valid key" ;;
        *"[GNUPG:] REVKEYSIG "*) die "the key that signed the bundle is revoked ($given); nothing was installed" ;;
        *"[GNUPG:] GOODSIG "*) [ -n "$signer" ] || die "gpg gave no fingerprint for the signature; nothing was installed" ;;
        *) die "could not check the signature, nothing was installed:
$(tail -n 5 "$gnupg/verify.log")" ;;
    esac
    note "SHA256SUMS is signed by the key you gave ($signer)"
}

# The bundle's files: exactly those SHA256SUMS lists, each with its checksum.
verify_bundle() {
    command -v sha256sum >/dev/null 2>&1 || die "sha256sum is missing (package coreutils); nothing was installed"
    [ -f SHA256SUMS ] || die "SHA256SUMS is missing: this is not a complete bundle; copy it again"
    if [ -n "$key" ]; then
        verify_signature
    fi
    unlisted=$(find . -type f ! -path ./SHA256SUMS ! -path ./SHA256SUMS.asc | sed 's|^\./||' \
        | awk 'NR == FNR { listed[$2] = 1; next } !($0 in listed)' SHA256SUMS -)
    if [ -n "$unlisted" ]; then
        die "files that SHA256SUMS does not list are in the bundle, nothing was installed:
$unlisted
copy the bundle again from the build machine (unpack it into an empty folder)"
    fi
    if ! report=$(sha256sum -c SHA256SUMS 2>&1); then
        bad=$(printf '%s\n' "$report" | grep -v ': OK$' || true)
        die "checksum check failed, nothing was installed:
$bad
copy the bundle again from the build machine (compare the .tar.gz with its .sha256)"
    fi
    note "all $(grep -c . SHA256SUMS) files match SHA256SUMS"
    if [ -z "$key" ] && [ -f SHA256SUMS.asc ]; then
        note "the bundle is signed (SHA256SUMS.asc); to check who made it, run me with --key FILE, the public key its maker gave you"
    fi
}

load_image() {
    docker_answers || die "Docker does not answer here: start it (systemctl start docker), install the bundle's Docker (sh install.sh --docker, if it carries one), or install the RPMs: sh install.sh --rpms"
    loaded_id=$("$DOCKER" image inspect --format '{{.Id}}' "$IMAGE_TAG" 2>/dev/null || true)
    if [ -n "$loaded_id" ] && [ "$loaded_id" = "$IMAGE_ID" ]; then
        note "image $IMAGE_TAG is already loaded ($loaded_id)"
    else
        note "loading $IMAGE_ARCHIVE into Docker $server_version"
        "$DOCKER" load -i "$IMAGE_ARCHIVE" || die "docker load failed (free space under Docker's data root? see above); run me again when fixed"
    fi
    arch=$("$DOCKER" image inspect --format '{{.Architecture}}' "$IMAGE_TAG") \
        || die "docker load did not produce $IMAGE_TAG"
    [ "$arch" = "$IMAGE_ARCH" ] || die "image $IMAGE_TAG is $arch, expected $IMAGE_ARCH"
    host=$(uname -m)
    if [ "$host" != "$RPM_ARCH" ]; then
        warn "this host is $host and the image is $IMAGE_ARCH: it runs only under emulation here"
    fi
    note "image $IMAGE_TAG ($arch) is ready; run it with:"
    printf '    %s\n' "$RUN_EXAMPLE"
    if [ "$DOCKER" != docker ] && ! on_path "$(dirname "$DOCKER")"; then
        note "docker is $DOCKER here ($(dirname "$DOCKER") is not on this shell's PATH)"
    fi
}

# The files of the bundle's repository, as SHA256SUMS lists them (relative to repo/).
repo_files() { awk '$2 ~ /^repo\// { print substr($2, 6) }' SHA256SUMS; }

# The host's copy of the repository holds exactly the bundle's files.
repo_in_place() {
    [ -d "$REPO_DIR" ] || return 1
    for rel in $(repo_files); do
        same_file "repo/$rel" "$REPO_DIR/$rel" || return 1
    done
    [ "$(find "$REPO_DIR" -type f | wc -l)" -eq "$(repo_files | wc -l)" ]
}

# The bundle's repository to REPO_DIR: copied under a new name of our own beside it, then swapped in.
place_repo() {
    if repo_in_place; then
        note "the repository $REPO_DIR holds this bundle's packages already"
        return
    fi
    make_dir "$(dirname "$REPO_DIR")"
    staged=$(mktemp -d "$(dirname "$REPO_DIR")/.$REPO_ID.XXXXXX")
    pending=$staged
    for rel in $(repo_files); do
        mkdir -p "$staged/$(dirname "$rel")"
        cp "repo/$rel" "$staged/$rel"
    done
    chmod -R u=rwX,go=rX "$staged"
    add_line "repo $REPO_DIR"
    if [ -d "$REPO_DIR" ]; then
        old=$(mktemp -d "$(dirname "$REPO_DIR")/.$REPO_ID.old.XXXXXX")
        mv "$REPO_DIR" "$old/"
        mv "$staged" "$REPO_DIR"
        rm -rf "$old"
    else
        mv "$staged" "$REPO_DIR"
    fi
    pending=
    if command -v restorecon >/dev/null 2>&1; then restorecon -R "$REPO_DIR" 2>/dev/null || true; fi
    note "installed the repository $REPO_DIR ($(repo_files | grep -c '\.rpm$') RPM(s))"
}

# The bundle's public key into rpm's keyring; each key it adds is recorded, so --uninstall takes it out.
import_key() {
    if [ -z "$REPO_KEY" ]; then
        warn "this bundle's packages are not signed: yum and dnf check no signature (gpgcheck=0); nothing shows they come from your build"
        return
    fi
    before=$(rpm -q gpg-pubkey 2>/dev/null | grep '^gpg-pubkey-' || true)
    rpm --import "$1" || die "rpm --import $1 failed (see above)"
    for name in $(rpm -q gpg-pubkey 2>/dev/null | grep '^gpg-pubkey-' || true); do
        if ! printf '%s\n' "$before" | grep -qxF "$name"; then
            add_line "rpmkey $name"
            note "imported the repository's key into rpm: $name"
        fi
    done
}

install_rpms() {
    host=$(uname -m)
    [ "$host" = "$RPM_ARCH" ] || die "these RPMs are for $RPM_ARCH and this host is $host; nothing was installed"
    require_root "--rpms"
    command -v rpm >/dev/null 2>&1 || die "rpm is missing here: these packages are for RPM-based systems (Kylin, openEuler, EL); nothing was installed"
    if command -v dnf >/dev/null 2>&1; then pm=dnf; elif command -v yum >/dev/null 2>&1; then pm=yum; else
        die "neither dnf nor yum is here to install the packages with their requirements; nothing was installed.
install the ones you need with rpm yourself, dependencies first; the bundle's RPMs, in that order:
  $RPM_FILES"
    fi
    repo_file=$REPOS_DIR/$REPO_ID.repo
    # Everything is checked before anything changes.
    if [ -e "$repo_file" ] && ! is_ours "$repo_file"; then
        die "$repo_file is here already and was not installed by a bundle; move it away and run me again; nothing was installed"
    fi
    if [ -e "$REPO_DIR" ] && ! has_line "repo $REPO_DIR"; then
        die "$REPO_DIR is here already and was not made by a bundle; move it away and run me again; nothing was installed"
    fi
    check_state_dir
    missing='' present=''
    # shellcheck disable=SC2086 # HOST_PACKAGES is a list of package names
    for package in $HOST_PACKAGES; do
        if rpm -q "$package" >/dev/null 2>&1; then present="$present $package"; else missing="$missing $package"; fi
    done

    changing=1
    start_record
    set_info REPO_ID "$REPO_ID"
    set_info REPO_DIR "$REPO_DIR"
    set_info HOST_PACKAGES "$HOST_PACKAGES"
    set_info PACKAGE_MANAGER "$pm"
    place_repo
    if ! same_file "repo/$REPO_ID.repo" "$repo_file"; then
        make_dir "$REPOS_DIR"
        put_file "repo/$REPO_ID.repo" "$repo_file" 0644
        note "installed $repo_file"
    fi
    import_key "$REPO_DIR/$REPO_KEY"
    # metadata_expire=0: yum reads the repository as it is now, not a copy cached by an earlier run.
    fresh="--setopt=$REPO_ID.metadata_expire=0"
    if [ -n "$missing" ]; then
        note "installing with $pm from the repository $REPO_ID:$missing"
        # shellcheck disable=SC2086 # package names
        "$pm" -y "$fresh" install $missing || die "$pm could not install$missing (see above): the packages they need from your distribution (its DVD or intranet mirror) must be reachable"
    fi
    if [ -n "$present" ]; then
        note "installed already:$present; upgrading them with $pm where the repository $REPO_ID holds newer versions"
        # shellcheck disable=SC2086 # package names
        "$pm" -y "$fresh" upgrade $present || die "$pm could not upgrade$present (see above)"
    fi
    changing=0
    # shellcheck disable=SC2086 # package names
    note "installed: $(rpm -q $HOST_PACKAGES | tr '\n' ' ')"
    note "a later bundle: run its install.sh --rpms (the repository is replaced, then $pm upgrades)"
    if [ -n "$HOST_START" ]; then
        note "start the server with:"
        printf '    %s\n' "$HOST_START"
    fi
}

# --- Docker from the bundle ---------------------------------------------------------------

# Another Docker on this host: its programs and units that this script did not install.
foreign_docker() {
    found=
    on_path_dockerd=$(command -v dockerd 2>/dev/null || true)
    on_path_docker=$(command -v docker 2>/dev/null || true)
    for path in "$on_path_dockerd" "$on_path_docker" /usr/bin/dockerd /usr/sbin/dockerd /usr/local/bin/dockerd \
        "$prefix/dockerd" "$UNIT_DIR/docker.service" /usr/lib/systemd/system/docker.service \
        /lib/systemd/system/docker.service; do
        if [ -z "$path" ] || [ ! -f "$path" ]; then continue; fi
        is_ours "$path" && continue
        case " $found " in *" $path "*) continue ;; esac
        found="$found $path"
    done
    printf '%s\n' "${found# }"
}

install_docker() {
    [ -n "$DOCKER_TARBALL" ] || die "this bundle carries no Docker engine (make one with: invoke bundle --with-docker); install Docker another way, or install the RPMs: sh install.sh --rpms"
    require_root "$options"
    host=$(uname -m)
    [ "$host" = "$DOCKER_ARCH" ] || die "the bundle's Docker is for $DOCKER_ARCH and this host is $host; nothing was installed"
    for tool in tar gzip awk sed cp mv mktemp df du; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is missing here; nothing was installed"
    done
    getent group docker >/dev/null 2>&1 || command -v groupadd >/dev/null 2>&1 \
        || die "groupadd is missing (package shadow-utils or passwd) to make the docker group; nothing was installed"

    # Everything is checked before anything changes.
    if [ "$force_docker" -eq 0 ]; then
        others=$(foreign_docker)
        if [ -n "$others" ] && docker_answers; then
            die "another Docker answers here (Docker $server_version: $others); I leave it alone.
load the image into it: sh $self --image; or pass --force-docker to replace it with Docker $DOCKER_VERSION from this bundle (what it replaces is kept and put back by --uninstall).
nothing was installed"
        elif [ -n "$others" ]; then
            die "another Docker is installed here but does not answer: $others
start it (systemctl start docker) and run me again to load the image into it;
or pass --force-docker to install Docker $DOCKER_VERSION from this bundle instead (what it replaces is kept and put back by --uninstall).
nothing was installed"
        fi
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/mysqlbuild-docker.XXXXXX")
    case "$tmp" in *[!A-Za-z0-9._/+-]*) die "TMPDIR $tmp: use a folder whose path has no spaces or colons; nothing was installed" ;; esac
    tar -xzf "$DOCKER_TARBALL" -C "$tmp" \
        || die "could not unpack $DOCKER_TARBALL into $tmp (free space? set TMPDIR to a roomier folder); nothing was installed"
    # shellcheck disable=SC2086 # DOCKER_BINARIES is a list of plain file names
    for name in $DOCKER_BINARIES; do
        [ -f "$tmp/docker/$name" ] || die "$DOCKER_TARBALL lacks docker/$name; nothing was installed"
    done
    use_units=0 prior='' prior_active=''
    if systemd_running; then
        use_units=1
        for unit in docker.service docker.socket; do
            sed "s|@BINDIR@|$prefix|g" "docker/$unit" >"$tmp/$unit"
        done
        prior=$(systemctl is-enabled docker.service 2>/dev/null || true)
        prior_active=$(systemctl is-active docker.service 2>/dev/null || true)
    fi
    plan='' conflicts=''
    for name in $DOCKER_BINARIES; do plan="$plan $tmp/docker/$name:$prefix/$name:0755"; done
    if [ "$use_units" -eq 1 ]; then
        plan="$plan $tmp/docker.service:$UNIT_DIR/docker.service:0644 $tmp/docker.socket:$UNIT_DIR/docker.socket:0644"
    fi
    todo=
    for item in $plan; do
        new=${item%%:*} rest=${item#*:}
        dest=${rest%%:*}
        if same_file "$dest" "$new"; then
            continue
        fi
        if [ -e "$dest" ] && ! is_ours "$dest"; then
            conflicts="$conflicts $dest"
        fi
        todo="$todo $item"
    done
    if [ -n "$conflicts" ] && [ "$force_docker" -eq 0 ]; then
        die "these files are here already and were not installed by a bundle:$conflicts
move them away, or pass --force-docker to replace them (they are kept in $STATE_DIR/backup and put back by --uninstall); nothing was installed"
    fi
    need=$(du -sk "$tmp/docker" | cut -f 1)
    room=$(df -Pk "$(existing_parent "$prefix")" | awk 'NR == 2 { print $4 }')
    if [ -n "$todo" ] && [ "$room" -lt $((need + need / 10)) ]; then
        die "Docker needs $((need / 1024)) MiB in $prefix and $(existing_parent "$prefix") has $((room / 1024)) MiB free; nothing was installed"
    fi
    check_state_dir
    daemon_json=keep
    if [ ! -e "$DAEMON_JSON" ]; then
        daemon_json=install
    elif is_ours "$DAEMON_JSON"; then
        same_file "$DAEMON_JSON" docker/daemon.json || daemon_json=install
    fi

    # Changes, each recorded as it is made.
    changing=1
    if [ -n "$todo" ] || [ "$daemon_json" = install ] || ! getent group docker >/dev/null 2>&1; then
        start_record
        set_info BIN "$prefix"
        set_info DATA_ROOT "$DOCKER_DATA_ROOT"
        set_info DOCKER_VERSION "$DOCKER_VERSION"
        set_info IMAGE_TAG "$IMAGE_TAG"
        set_info BUNDLE "$here"
    fi
    if [ "$use_units" -eq 1 ] && [ -n "$prior" ] && ! is_ours "$UNIT_DIR/docker.service"; then
        grep -q '^prior docker.service ' "$RECORD" 2>/dev/null || add_line "prior docker.service $prior $prior_active"
    fi
    for item in $todo; do
        new=${item%%:*} rest=${item#*:}
        dest=${rest%%:*} mode=${rest#*:}
        make_dir "$(dirname "$dest")"
        put_file "$new" "$dest" "$mode"
        note "installed $dest"
    done
    if [ "$daemon_json" = install ]; then
        make_dir "$(dirname "$DAEMON_JSON")"
        put_file docker/daemon.json "$DAEMON_JSON" 0644
        note "installed $DAEMON_JSON (data-root $DOCKER_DATA_ROOT)"
    elif ! is_ours "$DAEMON_JSON"; then
        note "kept your $DAEMON_JSON as it is; the bundle's settings are in $here/docker/daemon.json if you want to merge them"
    fi
    if ! getent group docker >/dev/null 2>&1; then
        groupadd -r docker
        add_line "group docker"
        note "made the group docker: its members may use docker without sudo (usermod -aG docker NAME)"
    fi
    if [ -z "$todo" ]; then
        note "Docker $DOCKER_VERSION from this bundle is installed in $prefix already"
    fi
    replaced=$todo
    changing=0
}

start_docker() {
    DOCKER=$prefix/docker
    if systemd_running; then
        changing=1
        note_runtime_dirs
        if [ -n "$replaced" ]; then systemctl daemon-reload; fi
        if ! systemctl is-enabled docker.socket >/dev/null 2>&1 || ! systemctl is-enabled docker.service >/dev/null 2>&1; then
            systemctl enable docker.socket docker.service
            add_line "enabled docker.service"
        fi
        if [ -n "$replaced" ] && systemctl is-active docker.service >/dev/null 2>&1; then
            note "restarting docker.service on the new files"
            systemctl restart docker.service
        else
            systemctl start docker.socket docker.service
        fi
        wait_for_docker 60 || die "Docker did not answer within 60 s of systemctl start docker; see: journalctl -u docker -n 50 --no-pager"
        changing=0
        note "Docker $server_version runs (systemd units docker.socket and docker.service, enabled at boot)"
    elif [ "$start_dockerd" -eq 1 ]; then
        if docker_answers; then
            note "Docker $server_version answers already"
            return
        fi
        changing=1
        note_runtime_dirs
        [ -e "$DOCKERD_LOG" ] || add_line "log $DOCKERD_LOG"
        note "starting $prefix/dockerd in the background (no systemd here); log: $DOCKERD_LOG"
        if command -v setsid >/dev/null 2>&1; then
            PATH="$prefix:$PATH" setsid nohup "$prefix/dockerd" >>"$DOCKERD_LOG" 2>&1 </dev/null &
        else
            PATH="$prefix:$PATH" nohup "$prefix/dockerd" >>"$DOCKERD_LOG" 2>&1 </dev/null &
        fi
        wait_for_docker 60 || die "dockerd did not answer within 60 s; the end of $DOCKERD_LOG:
$(tail -n 15 "$DOCKERD_LOG" 2>/dev/null)"
        changing=0
        note "Docker $server_version runs (started by hand: after a reboot start it again the same way)"
    else
        note "Docker $DOCKER_VERSION is installed in $prefix, but systemd does not run here, so nothing starts it."
        note "start it with:"
        # shellcheck disable=SC2016 # $PATH is for the user's shell, not expanded here
        printf '    PATH=%s:$PATH nohup %s/dockerd >>%s 2>&1 </dev/null &\n' "$prefix" "$prefix" "$DOCKERD_LOG"
        note "(or run: sh $self --start-dockerd), then run sh $self again to load the image"
        exit 2
    fi
}

# An rpm that keeps a package database here (on Debian, rpm -q would make one in ~/.rpmdb).
rpm_system() {
    command -v rpm >/dev/null 2>&1 || return 1
    dbpath=$(rpm -E '%{_dbpath}' 2>/dev/null || true)
    [ -n "$dbpath" ] && [ -n "$(ls -A "$dbpath" 2>/dev/null)" ]
}

# --- uninstall -----------------------------------------------------------------------------

# What dnf and yum cached of our repository (metadata, the key ring of repo_gpgcheck).
forget_repo_cache() {
    [ -n "$repo_id" ] || return 0
    for cached in /var/cache/dnf/"$repo_id"-???????????????? /var/cache/dnf/"$repo_id".solv \
        /var/cache/dnf/"$repo_id"-filenames.solvx /var/cache/yum/*/*/"$repo_id"; do
        if [ -e "$cached" ]; then rm -rf "$cached"; fi
    done
}

our_dockerd_pid() {
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -z "$pid" ] || ! alive "$pid"; then return 1; fi
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    case "$exe" in "$bin/dockerd" | "$bin/dockerd (deleted)") printf '%s\n' "$pid" ;; *) return 1 ;; esac
}

uninstall() {
    require_root "$options"
    if [ ! -f "$RECORD" ]; then
        note "nothing was installed here by a mysqlbuild bundle ($RECORD does not exist): nothing to remove"
        note "images loaded into a Docker stay there (docker image ls; docker rmi IMAGE)"
        return
    fi
    bin=$(info_value BIN)
    data_root=$(info_value DATA_ROOT)
    image_tag=$(info_value IMAGE_TAG)
    repo_id=$(info_value REPO_ID)
    host_packages=$(info_value HOST_PACKAGES)
    package_manager=$(info_value PACKAGE_MANAGER)
    DOCKER=$bin/docker
    if our_dockerd_pid >/dev/null && docker_answers; then
        running=$("$DOCKER" ps --format '{{.Names}}' 2>/dev/null | tr '\n' ' ')
        if [ -n "$running" ] && [ "$force" -eq 0 ]; then
            die "containers run on the Docker this bundle installed: $running
stop them first (docker stop NAME; data in volumes stays), or pass --force to let dockerd stop them; nothing was removed"
        fi
    fi
    if has_line "enabled docker.service" && systemd_running; then
        note "stopping and disabling docker.service and docker.socket"
        systemctl disable --now docker.service docker.socket || true
    fi
    if pid=$(our_dockerd_pid); then
        note "stopping dockerd (pid $pid)"
        kill -TERM "$pid"
        waited=0
        while alive "$pid" && [ "$waited" -lt 60 ]; do sleep 1; waited=$((waited + 1)); done
        if alive "$pid"; then
            die "dockerd (pid $pid) did not stop within 60 s; nothing was removed.
its log ends with:
$(tail -n 10 "$DOCKERD_LOG" 2>/dev/null)
stop it (kill $pid; kill -9 $pid only if it hangs), then run --uninstall again"
        fi
    fi
    if has_line "dir /etc/docker"; then
        rm -f /etc/docker/key.json   # the daemon's identity key, written by the dockerd we installed
    fi
    left=
    units_removed=0
    reversed=$(mktemp "$STATE_DIR/.reversed.XXXXXX")
    awk '{ line[NR] = $0 } END { for (i = NR; i > 0; i--) print line[i] }' "$RECORD" >"$reversed"
    while read -r kind first second; do
        case "$kind" in
            file)
                path=$second
                if [ -f "$path" ]; then
                    if [ "$(sha256_of "$path")" = "$first" ]; then
                        rm -f "$path"
                        note "removed $path"
                        case "$path" in "$UNIT_DIR"/*) units_removed=1 ;; esac
                    else
                        left="$left
  $path: changed since it was installed, so it is yours now"
                    fi
                fi
                if [ -f "$STATE_DIR/backup$path" ]; then
                    if [ -e "$path" ]; then
                        mv -f "$STATE_DIR/backup$path" "$path.before-mysqlbuild"
                        left="$left
  $path.before-mysqlbuild: the file that was there before install.sh"
                    else
                        mv -f "$STATE_DIR/backup$path" "$path"
                        note "put back $path as it was before"
                    fi
                fi
                ;;
            log)
                rm -f "$first"
                ;;
            repo)
                if [ -d "$first" ]; then
                    rm -rf "$first"
                    note "removed the repository $first"
                fi
                forget_repo_cache
                ;;
            rpmkey)
                if rpm -q "$first" >/dev/null 2>&1; then
                    rpm -e "$first" && note "removed the repository's key from rpm ($first)"
                fi
                ;;
            group)
                members=$(getent group "$first" | cut -d : -f 4)
                if [ -z "$members" ]; then
                    groupdel "$first" && note "removed the group $first"
                else
                    left="$left
  group $first: members $members were added after install"
                fi
                ;;
            dir)
                if rmdir "$first" 2>/dev/null; then
                    note "removed $first"
                elif [ -d "$first" ]; then
                    left="$left
  $first: holds files install.sh did not put there"
                fi
                ;;
        esac
    done <"$reversed"
    if [ "$units_removed" -eq 1 ] && systemd_running; then
        systemctl daemon-reload
        prior=$(awk '$1 == "prior" && $2 == "docker.service" { print $3, $4 }' "$RECORD")
        case "$prior" in
            enabled*)
                systemctl enable docker.service >/dev/null 2>&1 && note "enabled the docker.service that was here before"
                ;;
        esac
        case "$prior" in
            *" active")
                systemctl start docker.service && note "started the docker.service that was here before"
                ;;
        esac
    fi
    rm -rf "$STATE_DIR"
    note "removed what the bundle installed; left on purpose:"
    if [ -n "$data_root" ] && [ -d "$data_root" ]; then
        printf '  %s: Docker data (images such as %s, containers, volumes: perhaps your database);\n' "$data_root" "$image_tag"
        printf '    delete it yourself once nothing there is needed: rm -rf %s\n' "$data_root"
    fi
    if [ -n "$left" ]; then
        printf '%s\n' "${left#?}"
    fi
    # shellcheck disable=SC2086 # package names
    if [ -n "$host_packages" ] && rpm_system && rpm -q $host_packages >/dev/null 2>&1; then
        printf '  the packages installed with --rpms (they hold a database server, and your data): %s\n' "$host_packages"
        printf '    remove them yourself when nothing needs them: %s remove %s\n' "${package_manager:-yum}" "$host_packages"
    fi
}

# --- main ------------------------------------------------------------------------------

mode=auto
prefix=/usr/local/bin
start_dockerd=0
force_docker=0
force=0
changing=0
pending=
tmp=
gnupg=
key=
replaced=
options=$*
case "$(basename "$0")" in uninstall.sh) mode=uninstall ;; esac
while [ $# -gt 0 ]; do
    case "$1" in
        --check | --image | --rpms | --docker | --uninstall) mode=${1#--} ;;
        --prefix)
            [ $# -ge 2 ] || die "--prefix needs a folder"
            prefix=$2
            shift
            ;;
        --prefix=*) prefix=${1#--prefix=} ;;
        --key)
            [ $# -ge 2 ] || die "--key needs the file of the bundle maker's public key"
            key=$2
            shift
            ;;
        --key=*) key=${1#--key=} ;;
        --start-dockerd) start_dockerd=1 ;;
        --force-docker) force_docker=1 ;;
        --force) force=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown option $1"
            ;;
    esac
    shift
done
case "$prefix" in
    /*[!/]) ;;
    *) die "--prefix must be an absolute folder such as /usr/local/bin, found '$prefix'" ;;
esac
case "$prefix" in
    *[!A-Za-z0-9._/+-]*) die "--prefix '$prefix': use letters, digits and . _ - + / only" ;;
esac

on_exit() {
    status=$?
    [ -z "$tmp" ] || rm -rf "$tmp"
    if [ -n "$gnupg" ]; then
        if command -v gpgconf >/dev/null 2>&1; then gpgconf --homedir "$gnupg" --kill all >/dev/null 2>&1 || true; fi
        rm -rf "$gnupg"
    fi
    [ -z "$pending" ] || rm -rf "$pending"
    if [ "$status" -ne 0 ] && [ "$changing" -eq 1 ]; then
        printf 'install.sh: stopped after changing this host; each change is recorded in %s.\n' "$RECORD" >&2
        printf '  fix the cause above and run me again (I go on from there), or take it all back: sh %s/uninstall.sh\n' "$STATE_DIR" >&2
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

DOCKER=docker
bin=$(info_value BIN || true)
if [ -n "$bin" ] && [ -x "$bin/docker" ]; then DOCKER=$bin/docker; fi

if [ "$mode" = uninstall ]; then
    uninstall
    exit 0
fi

IMAGE_TAG='' IMAGE_ID='' IMAGE_ARCHIVE='' IMAGE_ARCH='' RPM_ARCH='' RPM_FILES='' RUN_EXAMPLE=''
REPO_ID='' REPO_DIR='' REPO_KEY='' HOST_PACKAGES='' HOST_START=''
DOCKER_VERSION='' DOCKER_TARBALL='' DOCKER_ARCH='' DOCKER_BINARIES='' DOCKER_DATA_ROOT=''
verify_bundle
# bundle.env was just verified with the rest (and its list signed, with --key); it holds IMAGE_TAG,
# IMAGE_ID, IMAGE_ARCHIVE, IMAGE_ARCH, RPM_ARCH, RPM_FILES, RUN_EXAMPLE; REPO_ID, REPO_DIR, REPO_KEY,
# HOST_PACKAGES, HOST_START (the yum repository and what to install from it); and DOCKER_VERSION,
# DOCKER_TARBALL, DOCKER_ARCH, DOCKER_BINARIES, DOCKER_DATA_ROOT (empty when it carries no Docker).
# shellcheck source=/dev/null
. ./bundle.env

case "$mode" in
    check) note "bundle is intact${key:+ and signed by the key you gave}; nothing installed" ;;
    image) load_image ;;
    rpms) install_rpms ;;
    docker)
        install_docker
        start_docker
        ;;
    auto)
        if [ "$force_docker" -eq 0 ] && docker_answers; then
            note "Docker $server_version answers here: using it as it is"
            load_image
        elif [ -n "$DOCKER_TARBALL" ]; then
            install_docker
            start_docker
            load_image
        elif command -v rpm >/dev/null 2>&1; then
            note "Docker does not answer here: installing the RPMs instead"
            install_rpms
        else
            die "neither Docker nor rpm is on this host: make a bundle with Docker (invoke bundle --with-docker), or use an RPM-based system"
        fi
        ;;
esac
