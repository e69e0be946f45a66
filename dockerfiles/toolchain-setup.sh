#!/bin/sh
# Runs in the target's builder container (the target's architecture, under QEMU
# on a foreign host) with the host toolchain mounted at TOOLCHAIN:
#   toolchain-setup.sh TOOLCHAIN TRIPLE OUT
# It finds the GCC installation a native build on this base uses (the newest
# one: EL7's devtoolset-10 before its GCC 4.8.5), writes into OUT/bin the
# compilers cc, gcc, c++ and g++ (clang for TRIPLE with that GCC's crt files,
# libgcc and libstdc++, linking with lld as GNU ld links under GCC), and OUT/env,
# which build-rpms.sh sources.  Options of the base's rpm build flags that clang
# does not take are dropped by those compilers (toolchain-flags.sh, beside this
# script, decides which).  Then it proves them: C and C++ programs are built,
# run, and carry the build-id and hash table GCC builds carry.
# Everything but the compiler and linker stays the base's own: headers,
# libraries, make, cmake, binutils, rpm and its macros.
set -eu

toolchain=$1
triple=$2
out=$3
bin=$out/bin
die() { echo "mysqlbuild toolchain: $*" >&2; exit 1; }

[ -x "$toolchain/bin/clang" ] || die "no host toolchain at $toolchain (the toolchain image is not mounted)"
"$toolchain/bin/clang" --version >/dev/null 2>&1 \
    || die "the host toolchain does not run in this container (a toolchain made for another machine?)"

# The GCC installation: a folder with crtbegin.o and libgcc.a, the newest version.
gcc_dir=$(for dir in /usr/lib/gcc/*/* /usr/lib64/gcc/*/* /opt/rh/*/root/usr/lib/gcc/*/*; do
              [ -f "$dir/crtbegin.o" ] && [ -f "$dir/libgcc.a" ] && printf '%s %s\n' "${dir##*/}" "$dir"
          done | sort -V | tail -n 1 | cut -d' ' -f2-)
[ -n "$gcc_dir" ] || die "no GCC installation in this builder image (no crtbegin.o and libgcc.a under /usr/lib/gcc): add gcc (and g++ or gcc-c++ for C++) to the base's build_requires"
gcc_version=${gcc_dir##*/}
crt1=$(for dir in /usr/lib64 /usr/lib/"$triple" /usr/lib /lib64; do
           [ -f "$dir/crt1.o" ] && echo "$dir/crt1.o" && break
       done || true)
[ -n "$crt1" ] || die "no crt1.o in this builder image: add the C library's development package (libc6-dev, glibc-devel) to the base's build_requires"

mkdir -p "$bin" "$out/ld"
# The linker: lld, found by clang as ld in -B's folder (linker options in the
# compiler's command line would make every compile-only call warn, and cmake's
# flag checks fail on such warnings), ending with what the distributions' GCC has
# GNU ld do (the last option wins): a 20-byte sha1 build-id, which rpm files
# /usr/lib/.build-id links by, and only the GNU symbol hash table.
# The outline-atomic helpers (__aarch64_ldadd4_acq_rel, ...) are in GCC's libgcc
# from GCC 10 on (9.3.1 in some backports). With an older runtime (EL7's GCC
# 4.8.5, Kylin's GCC 7) the toolchain's compiler-rt builtins are linked after
# everything else, so they give only what libgcc lacks.
helpers=""
builtins=$toolchain/lib/target/$triple/libclang_rt.builtins.a
case $triple in
    aarch64-*)
        if "$toolchain/bin/llvm-nm" "$gcc_dir/libgcc.a" 2>/dev/null | grep -q " T __aarch64_ldadd4_acq_rel$"; then
            echo "mysqlbuild toolchain: outline-atomic helpers from GCC $gcc_version's libgcc"
        elif [ -f "$builtins" ]; then
            helpers=" $builtins"
            echo "mysqlbuild toolchain: GCC $gcc_version's libgcc has no outline-atomic helpers: compiler-rt's builtins give them ($builtins)"
        else
            echo "mysqlbuild toolchain: GCC $gcc_version's libgcc has no outline-atomic helpers, and the toolchain carries no compiler-rt builtins for $triple"
        fi ;;
esac
printf '#!%s/bin/sh\n# mysqlbuild: lld, linking as GNU ld under GCC\nexec %s/bin/ld.lld "$@" --build-id=sha1 --hash-style=gnu%s\n' \
    "$toolchain" "$toolchain" "$helpers" > "$out/ld/$triple-ld"
chmod 0755 "$out/ld/$triple-ld"
ln -sf "$triple-ld" "$out/ld/ld"

# The base's build flags are GCC's (rpm's %{optflags}; on EL8 and later, openEuler
# and Kylin with spec files for hardening and annobin): the options clang does not
# take for this target are dropped from every compile, and said here.
base_flags=$(rpm --eval '%{?optflags} %{?build_cflags} %{?build_cxxflags} %{?build_ldflags}' 2>/dev/null || true)
# shellcheck disable=SC2046,SC2086  # the flags are words
sh "$(dirname "$0")/toolchain-flags.sh" "$toolchain/bin/clang" "$triple" \
    $(printf '%s\n' $base_flags | sort -u) > "$out/dropped"
drop=""
while IFS="$(printf '\t')" read -r option why; do
    echo "mysqlbuild toolchain: dropped from every compile: $option ($why)"
    drop="$drop${drop:+|}'$option'"
done < "$out/dropped"

common="--target=$triple --gcc-install-dir=$gcc_dir -B$out/ld"
# With MYSQLBUILD_CCACHE=1 every compile goes through the toolchain's ccache, which runs natively.
launcher=""
if [ "${MYSQLBUILD_CCACHE:-0}" = 1 ] && [ -x "$toolchain/bin/ccache" ]; then
    launcher="$toolchain/bin/ccache "
fi
write() {   # NAME DRIVER
    {
        printf '#!%s/bin/sh\n# mysqlbuild: clang for %s with GCC %s (%s)\n' "$toolchain" "$triple" "$gcc_version" "$gcc_dir"
        if [ -n "$drop" ]; then
            # shellcheck disable=SC2016  # the wrapper's own variables
            printf 'for arg do\n    shift\n    case $arg in %s) continue ;; esac\n    set -- "$@" "$arg"\ndone\n' "$drop"
        fi
        printf 'exec %s%s/bin/%s %s "$@"\n' "$launcher" "$toolchain" "$2" "$common"
    } > "$bin/$1"
    chmod 0755 "$bin/$1"
}
for name in cc gcc "$triple-gcc"; do write "$name" clang; done
for name in c++ g++ "$triple-g++"; do write "$name" clang++; done

cat > "$out/env" <<ENV
# mysqlbuild: sourced by build-rpms.sh: compile with the host toolchain
export MYSQLBUILD_TOOLCHAIN=$toolchain MYSQLBUILD_GCC_DIR=$gcc_dir
export PATH=$bin:\$PATH CC=$bin/gcc CXX=$bin/g++
ENV
[ -n "$launcher" ] && echo "export MYSQLBUILD_CCACHE_BIN=$toolchain/bin/ccache" >> "$out/env"

# Proof: both languages compile, link against this base's libraries and run.
probe=$(mktemp -d)
printf '#include <stdio.h>\nint main(void){puts("c ok");return 0;}\n' > "$probe/p.c"
"$bin/cc" -O2 -o "$probe/pc" "$probe/p.c" || die "the compiler cannot build a C program here"
"$probe/pc" >/dev/null || die "a C program built here does not run"
[ "$("$bin/cc" -print-prog-name=ld)" = "$out/ld/ld" ] || die "clang does not pick the toolchain's linker ($("$bin/cc" -print-prog-name=ld))"
"$toolchain/bin/llvm-readelf" -n "$probe/pc" | grep -Eq "Build ID: [0-9a-f]{40}$" || die "the linker wrote no 20-byte build-id note"
"$toolchain/bin/llvm-readelf" -SW "$probe/pc" | grep -q " \.hash " && die "the linker wrote a SysV hash table beside the GNU one"
languages=C
cxx_headers=
for dir in "$gcc_dir"/../../../../include/c++/* /usr/include/c++/*; do
    [ -d "$dir" ] && cxx_headers=$dir
done
if [ -n "$cxx_headers" ]; then
    printf '#include <iostream>\n#include <string>\nint main(){std::string s("c++ ok");std::cout<<s<<std::endl;return 0;}\n' > "$probe/p.cc"
    "$bin/c++" -O2 -o "$probe/pcc" "$probe/p.cc" || die "the compiler cannot build a C++ program against this base's libstdc++ (GCC $gcc_version in $gcc_dir)"
    "$probe/pcc" >/dev/null || die "a C++ program built here does not run"
    languages="C and C++"
fi
rm -rf "$probe"
echo "mysqlbuild toolchain: $("$toolchain/bin/clang" --version | head -n 1) for $triple, GCC $gcc_version's runtime ($gcc_dir): $languages programs build and run"
