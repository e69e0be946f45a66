#!/bin/sh
# Runs in the toolchain image (the host's architecture), once, when it is made:
#   toolchain-pack.sh LLVM_PREFIX DEST
# Copies clang, lld, the llvm binutils, ccache and a shell from LLVM_PREFIX (Debian's
# /usr/lib/llvm-N) into DEST, with every shared library they load and this
# machine's dynamic loader, and points each program at them (interpreter and
# DT_RPATH: a DT_RUNPATH would not reach the libraries' own dependencies).
# The folder then runs in any container of any architecture, mounted at DEST:
# the kernel runs its programs natively, whatever the container's own libraries
# are (a Debian 11, EL7 or Kylin root of the target's architecture, under QEMU).
set -eu

prefix=$1
dest=$2
die() { echo "mysqlbuild toolchain-pack: $*" >&2; exit 1; }
[ -x "$prefix/bin/clang" ] || die "no clang in $prefix/bin"
command -v patchelf >/dev/null || die "patchelf is not installed in the toolchain image"

rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
# The programs: clang (clang++ is the same binary under another name), lld, the
# llvm binutils a build and rpm's packaging call, and dash for the wrappers.
cp -L "$prefix/bin/clang" "$dest/bin/clang"
cp -L "$prefix/bin/lld" "$dest/bin/lld"
for tool in ar ranlib nm objcopy objdump readelf strip; do
    cp -L "$prefix/bin/llvm-$tool" "$dest/bin/llvm-$tool"
done
cp -L "$(command -v dash)" "$dest/bin/sh"
# ccache, so that a build in the target's container caches natively (the base's own would run under QEMU).
if command -v ccache >/dev/null; then
    cp -L "$(command -v ccache)" "$dest/bin/ccache"
fi
# The compiler's own headers (stddef.h, arm_neon.h, ...), found next to the binary.
cp -rL "$prefix/lib/clang" "$dest/lib/clang"

# Every library the programs load, and the loader itself.
loader=
for program in "$dest"/bin/*; do
    ldd "$program" | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\// {print $1}'
done | sort -u > "$dest/.libs"
while IFS= read -r lib; do
    case $(basename "$lib") in
        ld-linux*) loader=$(basename "$lib") ;;
    esac
    cp -L "$lib" "$dest/lib/$(basename "$lib")"
done < "$dest/.libs"
rm -f "$dest/.libs"
[ -n "$loader" ] || die "no dynamic loader found among the programs' libraries"

for program in "$dest"/bin/*; do
    patchelf --set-interpreter "$dest/lib/$loader" --force-rpath --set-rpath "$dest/lib" "$program"
done
for lib in "$dest"/lib/*.so*; do
    [ "$(basename "$lib")" = "$loader" ] && continue
    if patchelf --print-rpath "$lib" | grep -q .; then
        patchelf --force-rpath --set-rpath "$dest/lib" "$lib"
    fi
done

# Names the build calls them by.
ln -s clang "$dest/bin/clang++"
ln -s lld "$dest/bin/ld.lld"
chmod -R a+rX "$dest"
"$dest/bin/clang" --version | head -n 1 > "$dest/VERSION"
cat "$dest/VERSION"
echo "mysqlbuild toolchain-pack: $dest ($(du -sm "$dest" | cut -f1) MiB, $(find "$dest/lib" -maxdepth 1 -name "*.so*" | wc -l) libraries, loader $loader)"
