#!/bin/bash
# Runs inside the builder (stage rpms): rpmbuild of one spec.
#   build-rpms.sh SPEC [rpmbuild arguments...]
# Environment: JOBS (0 = as many as CPUs and memory allow, 2 GB per job),
# NODEPS=1 on bases whose libraries are not in the RPM database (apt family),
# SOURCE_DATE_EPOCH for reproducible payloads, NO_CCACHE=1 to compile
# everything afresh (benchmarks).
# MYSQLBUILD_TOOLCHAIN (cross mode): where the host toolchain is mounted, and
# MYSQLBUILD_TRIPLE the target's triple (toolchain-setup.sh makes the compilers).
# MYSQLBUILD_CODEGEN_FLAGS: the recipe's code generation flags, proven first.
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
# What this script says goes to the screen and into the log, before rpmbuild's own output.
say() { printf '%s\n' "$*" | tee -a "$log"; }

cpus=$(nproc)
mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
by_memory=$(( mem_kb / (2 * 1024 * 1024) ))
[ "$by_memory" -ge 1 ] || by_memory=1
jobs=${JOBS:-0}
[ "$jobs" -gt 0 ] 2>/dev/null || jobs=$cpus
[ "$jobs" -le "$by_memory" ] || jobs=$by_memory
say "mysqlbuild: rpmbuild of $spec with $jobs parallel jobs ($cpus CPUs, $(( mem_kb / 1024 )) MiB memory)"

extra=()
ccache_wanted=1
[ "${NO_CCACHE:-0}" = 1 ] && ccache_wanted=0
if [ -n "${MYSQLBUILD_TOOLCHAIN:-}" ]; then
    # Cross mode: the host toolchain is mounted here; cc, gcc, c++ and g++ become its clang, with this
    # base's GCC runtime, through the toolchain's own ccache (native, unlike the base's). Everything
    # else stays the base's own.
    export CCACHE_DIR=/root/.ccache
    MYSQLBUILD_CCACHE=$ccache_wanted sh /usr/local/libexec/mysqlbuild/toolchain-setup.sh "$MYSQLBUILD_TOOLCHAIN" \
        "$MYSQLBUILD_TRIPLE" /opt/mysqlbuild/target 2>&1 | tee -a "$log" || exit 1
    # shellcheck source=/dev/null
    . /opt/mysqlbuild/target/env
fi

# The recipe's code generation (atomics, target CPU), which the spec adds to its flags through
# %{mysqlbuild_codegen_flags}: proven with this build's compiler before anything compiles, in every mode.
# Without the host toolchain, the compiler is the newest GCC of the base (EL7: devtoolset-10's, which
# the spec enables), as toolchain-setup.sh chooses the GCC runtime.
if [ -n "${MYSQLBUILD_CODEGEN_FLAGS:-}" ]; then
    probe_cc=${CC:-}
    if [ -z "$probe_cc" ]; then
        probe_cc=$(for cc in /opt/rh/*/root/usr/bin/gcc "$(command -v gcc)"; do
                       [ -x "$cc" ] && printf '%s %s\n' "$("$cc" -dumpfullversion -dumpversion 2>/dev/null | head -n 1)" "$cc"
                   done | sort -V | tail -n 1 | cut -d' ' -f2-)
    fi
    probe=$(mktemp -d)
    printf '#include <stdatomic.h>\natomic_long n;\nint main(void){return (int)atomic_fetch_add(&n, 1);}\n' > "$probe/a.c"
    # shellcheck disable=SC2086  # the flags are words
    if ! "${probe_cc:-gcc}" -O2 $MYSQLBUILD_CODEGEN_FLAGS -o "$probe/a" "$probe/a.c" > "$probe/log" 2>&1 || ! "$probe/a"; then
        say "mysqlbuild: the compiler of this build ($("${probe_cc:-gcc}" --version | head -n 1)) cannot build and run an atomic counter with the recipe's code generation flags: $MYSQLBUILD_CODEGEN_FLAGS"
        sed 's/^/mysqlbuild| /' "$probe/log" | tee -a "$log"
        say "mysqlbuild: run-time dispatch of atomics (-moutline-atomics) needs GCC 10 or newer, or its libgcc (EL7: devtoolset-10), or set codegen.atomics: llsc in the recipe"
        exit 1
    fi
    rm -rf "$probe"
    say "mysqlbuild: code generation $MYSQLBUILD_CODEGEN_FLAGS: an atomic counter builds and runs"
fi

for dir in /usr/lib64/ccache /usr/lib/ccache; do
    if [ "$ccache_wanted" = 0 ]; then
        say "mysqlbuild: ccache off (NO_CCACHE=1)"
        break
    fi
    if [ -n "${MYSQLBUILD_CCACHE_BIN:-}" ]; then
        "$MYSQLBUILD_CCACHE_BIN" --max-size=5G >/dev/null 2>&1 || true
        say "mysqlbuild: ccache on (the host toolchain's, $MYSQLBUILD_CCACHE_BIN)"
        break
    fi
    if [ -d "$dir" ] && command -v ccache >/dev/null 2>&1; then
        export PATH="$dir:$PATH" CCACHE_DIR=/root/.ccache
        # cmake tries cc and c++ first, and Debian's ccache folder has no such
        # links (only gcc, g++): name compilers that go through ccache.
        export CC="${CC:-gcc}" CXX="${CXX:-g++}"
        ccache --max-size=5G >/dev/null 2>&1 || true
        say "mysqlbuild: ccache on ($dir)"
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
    | tee -a "$log" \
    | grep --line-buffered -E '^\[ *[0-9]+%\]|^error:|^RPM build errors|^(Wrote|Processing files): |\*\*\* |^make(\[[0-9]+\])?: \*\*\*'
status=${PIPESTATUS[0]}
ccache_bin=${MYSQLBUILD_CCACHE_BIN:-$(command -v ccache || true)}
if [ "$ccache_wanted" = 1 ] && [ -n "$ccache_bin" ] && [ -n "${CCACHE_DIR:-}" ]; then
    "$ccache_bin" -s 2>/dev/null | grep -E 'hit|miss' | sed 's/^/mysqlbuild: ccache /' || true
fi
if [ "$status" -ne 0 ]; then
    echo "mysqlbuild: rpmbuild failed with exit code $status after $(( $(date +%s) - start )) s; last 50 lines:"
    tail -n 50 "$log" | sed 's/^/rpmbuild| /'
    exit "$status"
fi
cp "$log" /root/rpmbuild/LOGS/rpmbuild.log
echo "mysqlbuild: rpmbuild finished in $(( $(date +%s) - start )) s"
