#!/bin/bash
# Runs inside the builder (stage rpms): rpmbuild of one spec.
#   build-rpms.sh SPEC [rpmbuild arguments...]
# Environment: JOBS (0 = as many as CPUs and memory allow, 2 GB per job),
# NODEPS=1 on bases whose libraries are not in the RPM database (apt family),
# SOURCE_DATE_EPOCH for reproducible payloads, NO_CCACHE=1 to compile
# everything afresh (benchmarks).
# In a cross builder (/opt/mysqlbuild/cross/env, written by cross-setup.sh) the
# compilers and binutils on PATH are those for the target, and rpmbuild builds
# for it (--target) with the target-aware strip, objcopy and objdump.
# The whole rpmbuild output goes to /var/log/mysqlbuild/rpmbuild.log (a cache
# mount, so it survives a failure); stdout carries only progress and errors,
# because BuildKit clips each step's output at 2 MiB.
set -u -o pipefail

spec=$1
shift
log_dir=/var/log/mysqlbuild
log=$log_dir/rpmbuild.log
mkdir -p "$log_dir" /root/rpmbuild/LOGS
: > "$log"

cpus=$(nproc)
mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
by_memory=$(( mem_kb / (2 * 1024 * 1024) ))
[ "$by_memory" -ge 1 ] || by_memory=1
jobs=${JOBS:-0}
[ "$jobs" -gt 0 ] 2>/dev/null || jobs=$cpus
[ "$jobs" -le "$by_memory" ] || jobs=$by_memory
echo "mysqlbuild: rpmbuild of $spec with $jobs parallel jobs ($cpus CPUs, $(( mem_kb / 1024 )) MiB memory)"

extra=()
cross_env=/opt/mysqlbuild/cross/env
if [ -f "$cross_env" ]; then
    # shellcheck source=/dev/null
    . "$cross_env"
    bin=$MYSQLBUILD_CROSS_BIN
    extra+=(--target "$MYSQLBUILD_CROSS_ARCH"
            --define "__strip $bin/strip" --define "__objcopy $bin/objcopy" --define "__objdump $bin/objdump"
            --define "__nm $bin/nm" --define "__ar $bin/ar" --define "__ranlib $bin/ranlib")
    echo "mysqlbuild: cross build for $MYSQLBUILD_CROSS_ARCH on $(uname -m): $(cc --version | head -n 1), sysroot $MYSQLBUILD_SYSROOT"
fi

for dir in /usr/lib64/ccache /usr/lib/ccache; do
    if [ "${NO_CCACHE:-0}" = 1 ]; then
        echo "mysqlbuild: ccache off (NO_CCACHE=1)"
        break
    fi
    if [ -d "$dir" ] && command -v ccache >/dev/null 2>&1; then
        export PATH="$dir:$PATH" CCACHE_DIR=/root/.ccache
        # cmake tries cc and c++ first, and Debian's ccache folder has no such
        # links (only gcc, g++): name compilers that go through ccache.
        export CC="${CC:-gcc}" CXX="${CXX:-g++}"
        ccache --max-size=5G >/dev/null 2>&1 || true
        echo "mysqlbuild: ccache on ($dir)"
        break
    fi
done

[ "${NODEPS:-0}" = 1 ] && extra+=(--nodeps)
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    export SOURCE_DATE_EPOCH
    extra+=(--define "use_source_date_epoch_as_buildtime 1"
            --define "clamp_mtime_to_source_date_epoch 1"
            --define "_buildhost mysqlbuild")
fi

start=$(date +%s)
rpmbuild -bb --define "_topdir /root/rpmbuild" --define "_smp_mflags -j$jobs" \
    ${extra[@]+"${extra[@]}"} "$@" "/root/rpmbuild/SPECS/$spec" 2>&1 \
    | tee "$log" \
    | grep --line-buffered -E '^\[ *[0-9]+%\]|^error:|^RPM build errors|^(Wrote|Processing files): |\*\*\* |^make(\[[0-9]+\])?: \*\*\*'
status=${PIPESTATUS[0]}
if [ "${NO_CCACHE:-0}" != 1 ] && command -v ccache >/dev/null 2>&1 && [ -n "${CCACHE_DIR:-}" ]; then
    ccache -s 2>/dev/null | grep -E 'hit|miss' | sed 's/^/mysqlbuild: ccache /' || true
fi
if [ "$status" -ne 0 ]; then
    echo "mysqlbuild: rpmbuild failed with exit code $status after $(( $(date +%s) - start )) s; last 50 lines:"
    tail -n 50 "$log" | sed 's/^/rpmbuild| /'
    exit "$status"
fi
cp "$log" /root/rpmbuild/LOGS/rpmbuild.log
echo "mysqlbuild: rpmbuild finished in $(( $(date +%s) - start )) s"
