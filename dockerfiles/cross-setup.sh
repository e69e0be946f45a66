#!/bin/sh
# Runs in the builder's deps stage in cross mode, on the host's architecture:
#   cross-setup.sh TARGET_ROOT RPM_ARCH TRIPLE
# Environment: GCC_TOOLCHAIN (optional: the sysroot's GCC when not under /usr),
# CROSS_FLAGS (optional: options for every compile, from the base's cross.flags).
# TARGET_ROOT is the target's builder image (its build requirements installed
# under QEMU), mounted read-only. This script
#   1. copies its libraries and headers into the sysroot /opt/mysqlbuild/sysroot,
#      with absolute symbolic links made relative (they would point into this host);
#   2. writes /opt/mysqlbuild/cross/bin: cc/gcc/c++/g++ that call clang for TRIPLE
#      with that sysroot (so glibc, libstdc++, OpenSSL and ncurses are the target
#      base's own), the llvm binutils, and a cmake that adds the toolchain file;
#   3. writes /opt/mysqlbuild/cross/env, which build-rpms.sh sources;
#   4. proves it: a C and a C++ program built for the target and run through QEMU.
# Nothing here knows the package family: apt and rpm bases take the same path.
set -eu

src=$1
rpm_arch=$2
triple=$3
gcc_toolchain=${GCC_TOOLCHAIN:-}
cross_flags=${CROSS_FLAGS:-}
top=/opt/mysqlbuild
sysroot=$top/sysroot
cross=$top/cross
bin=$cross/bin

die() { echo "mysqlbuild cross-setup: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed in the $(uname -m) builder: add the package that provides it to the base's cross.requires in recipe.yaml"; }
for tool in clang clang++ ld.lld llvm-ar llvm-ranlib llvm-nm llvm-strip llvm-objcopy llvm-objdump llvm-readelf; do
    need "$tool"
done

# 1. The sysroot. /etc contributes only the dynamic loader's configuration (QEMU's
# loader reads it there); /opt holds EL7's devtoolset.
mkdir -p "$sysroot/etc"
for dir in usr lib lib64 lib32 bin sbin opt; do
    if [ -e "$src/$dir" ] || [ -L "$src/$dir" ]; then
        cp -a "$src/$dir" "$sysroot/"
    fi
done
for item in ld.so.conf ld.so.conf.d ld.so.cache; do
    if [ -e "$src/etc/$item" ]; then
        cp -a "$src/etc/$item" "$sysroot/etc/"
    fi
done
links=0
find "$sysroot" -type l > "$top/.links"
while IFS= read -r link; do
    target=$(readlink "$link")
    case $target in
        /*) ln -sfn "$(realpath -m -s --relative-to="$(dirname "$link")" "$sysroot$target")" "$link"
            links=$((links + 1)) ;;
    esac
done < "$top/.links"
rm -f "$top/.links"
# cmake searches headers and libraries only inside the sysroot (the toolchain file
# re-roots every path), so the build's own tree must be seen there too: rpmbuild
# works in /root/rpmbuild (build-rpms.sh), where boost and bundled code are found.
mkdir -p "$sysroot/root"
ln -sfn /root/rpmbuild "$sysroot/root/rpmbuild"
echo "mysqlbuild cross-setup: sysroot $sysroot from the $rpm_arch builder ($(du -sm "$sysroot" | cut -f1) MiB, $links absolute links made relative)"

# 2. The tools. The linker is lld, found by clang as $triple-ld in -B's folder,
# ending with what the distributions' GCC has GNU ld do (the last option wins):
# a 20-byte sha1 build-id (clang asks for lld's 8-byte one, too short for rpm to
# file /usr/lib/.build-id links by) and only the GNU symbol hash table (clang asks
# for both; rpm then also differs: GCC-built binaries require rtld(GNU_HASH)).
mkdir -p "$bin" "$cross/ld"
printf '#!/bin/sh\n# mysqlbuild: lld for %s, linking as GNU ld under GCC\nexec %s "$@" --build-id=sha1 --hash-style=gnu\n' \
    "$rpm_arch" "$(command -v ld.lld)" > "$cross/ld/$triple-ld"
chmod 0755 "$cross/ld/$triple-ld"
ln -sf "$triple-ld" "$cross/ld/ld"
flags="--target=$triple --sysroot=$sysroot -B$cross/ld${cross_flags:+ $cross_flags}"
if [ -n "$gcc_toolchain" ]; then
    [ -d "$sysroot$gcc_toolchain" ] || die "GCC_TOOLCHAIN $gcc_toolchain is not in the $rpm_arch builder image"
    flags="$flags --gcc-toolchain=$sysroot$gcc_toolchain"
fi
write_wrapper() {   # NAME COMPILER
    printf '#!/bin/sh\n# mysqlbuild: the %s cross compiler (clang for %s, sysroot %s)\nexec %s %s "$@"\n' \
        "$rpm_arch" "$triple" "$sysroot" "$2" "$flags" > "$bin/$1"
    chmod 0755 "$bin/$1"
}
for name in cc gcc "$triple-gcc"; do write_wrapper "$name" "$(command -v clang)"; done
for name in c++ g++ "$triple-g++"; do write_wrapper "$name" "$(command -v clang++)"; done
for tool in ranlib nm strip objcopy objdump readelf; do
    ln -sf "$(command -v "llvm-$tool")" "$bin/$tool"
    ln -sf "$(command -v "llvm-$tool")" "$bin/$triple-$tool"
done
# ar: the host's GNU ar where there is one. An archive is the same for every
# machine, and MySQL merges its static libraries with a thin archive and an MRI
# script (ar cqT, ar -M), which llvm-ar (11) writes so that no ranlib can index
# them. ranlib stays llvm-ranlib, which indexes the target's symbols.
gnu_ar=$(command -v ar || command -v llvm-ar)
ln -sf "$gnu_ar" "$bin/ar"
ln -sf "$gnu_ar" "$bin/$triple-ar"

# cmake: configured for the target, but not declared a cross build (CMAKE_CROSSCOMPILING
# stays false), so that try_run checks and the programs a build makes and runs (MySQL's
# comp_err, gen_lex_hash, ...) run for real, through binfmt QEMU, exactly as natively.
cat > "$cross/toolchain.cmake" <<CMAKE
# mysqlbuild: cross toolchain for $rpm_arch (written by cross-setup.sh)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR $rpm_arch)
set(CMAKE_SYSROOT $sysroot)
set(CMAKE_AR $bin/ar CACHE FILEPATH "")
set(CMAKE_RANLIB $bin/ranlib CACHE FILEPATH "")
set(CMAKE_NM $bin/nm CACHE FILEPATH "")
set(CMAKE_STRIP $bin/strip CACHE FILEPATH "")
set(CMAKE_OBJCOPY $bin/objcopy CACHE FILEPATH "")
set(CMAKE_OBJDUMP $bin/objdump CACHE FILEPATH "")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING FALSE)
CMAKE
real_cmake=$(command -v cmake3 || command -v cmake) || die "cmake is not installed in the $(uname -m) builder"
cat > "$bin/cmake" <<CMAKE
#!/bin/sh
# mysqlbuild: cmake with the $rpm_arch toolchain file when it configures a build tree.
case "\${1:-}" in
    --build|--install|--open|-E|-P|-N|--version|--help|-h|--system-information|--find-package|--check-build-system)
        exec $real_cmake "\$@" ;;
esac
exec $real_cmake -DCMAKE_TOOLCHAIN_FILE=$cross/toolchain.cmake "\$@"
CMAKE
chmod 0755 "$bin/cmake"
[ "$(basename "$real_cmake")" = cmake3 ] && ln -sf cmake "$bin/cmake3"

# 3. The environment of a cross build.
pc=""
for dir in "usr/lib/$triple/pkgconfig" usr/lib64/pkgconfig usr/lib/pkgconfig usr/share/pkgconfig; do
    if [ -d "$sysroot/$dir" ]; then pc="$pc${pc:+:}$sysroot/$dir"; fi
done
cat > "$cross/env" <<ENV
# mysqlbuild: sourced by build-rpms.sh for a cross build to $rpm_arch
export MYSQLBUILD_CROSS_ARCH=$rpm_arch MYSQLBUILD_SYSROOT=$sysroot MYSQLBUILD_CROSS_BIN=$bin
export PATH=$bin:\$PATH
export QEMU_LD_PREFIX=$sysroot
export PKG_CONFIG_SYSROOT_DIR=$sysroot PKG_CONFIG_LIBDIR=$pc
ENV

# 4. Proof, before any real build: both languages compile, link against the sysroot and run.
probe=$(mktemp -d)
printf '#include <stdio.h>\nint main(void){puts("c ok");return 0;}\n' > "$probe/p.c"
printf '#include <iostream>\n#include <string>\nint main(){std::string s("c++ ok");std::cout<<s<<std::endl;return 0;}\n' > "$probe/p.cc"
"$bin/cc" -O2 -o "$probe/pc" "$probe/p.c" || die "the C cross compiler cannot build a program for $rpm_arch"
QEMU_LD_PREFIX=$sysroot "$probe/pc" >/dev/null || die "a $rpm_arch program does not run here: register QEMU in binfmt_misc (invoke doctor shows how)"
"$bin/readelf" -n "$probe/pc" | grep -Eq "Build ID: [0-9a-f]{40}$" || die "the linker wrote no 20-byte build-id note"
"$bin/readelf" -SW "$probe/pc" | grep -q " \.hash " && die "the linker wrote a SysV hash table beside the GNU one"
# Static libraries merged as MySQL merges them (a thin archive, an MRI script, ranlib) still link.
printf 'int probe_one(void){return 1;}\n' > "$probe/one.c"
printf 'int probe_one(void);\nint main(void){return probe_one() - 1;}\n' > "$probe/main.c"
(cd "$probe" && "$bin/cc" -c one.c && "$bin/ar" qc libone.a one.o && "$bin/ranlib" libone.a \
    && "$bin/ar" cqT libmerged.a libone.a \
    && printf 'create libmerged.a\naddlib libmerged.a\nsave\nend\n' | "$bin/ar" -M \
    && "$bin/ranlib" libmerged.a && "$bin/cc" -o merged main.c -L. -lmerged) \
    || die "a merged static library (ar -M, ranlib) does not link for $rpm_arch"
languages=C
# C++ needs the target's libstdc++ headers, which come with its g++ (a C-only recipe has none).
if ls -d "$sysroot$gcc_toolchain"/usr/include/c++/* >/dev/null 2>&1 \
        || ls -d "$sysroot$gcc_toolchain"/include/c++/* >/dev/null 2>&1; then
    "$bin/c++" -O2 -o "$probe/pcc" "$probe/p.cc" || die "the C++ cross compiler cannot build a program for $rpm_arch against the sysroot's libstdc++"
    QEMU_LD_PREFIX=$sysroot "$probe/pcc" >/dev/null || die "a $rpm_arch C++ program does not run here (QEMU, or the sysroot's libstdc++)"
    languages="C and C++"
else
    echo "mysqlbuild cross-setup: no libstdc++ headers in the sysroot (no g++ among the build requirements): C only"
fi
rm -rf "$probe"
echo "mysqlbuild cross-setup: $("$bin/cc" --version | head -n 1) for $triple: $languages programs build and run"
