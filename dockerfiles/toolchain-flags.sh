#!/bin/sh
# The one filter between a base's GCC build flags and the host toolchain's clang:
#   toolchain-flags.sh CLANG TRIPLE [OPTION...]
# prints, one per line as "OPTION<tab>why", every OPTION that clang does not take
# for TRIPLE: what rpm's %{optflags} and %{build_ldflags} hold for GCC only (spec
# files such as -specs=/usr/lib/rpm/redhat/redhat-hardened-cc1, annobin's plugin,
# --param values, options clang ignores for this target).  Every other option is
# kept.  An option is taken when a compile with it alone gives no diagnostic at
# all, with warnings about unused or unknown options made errors; linker options
# (-Wl,...) go to lld, which takes GNU ld's, and are kept.  Runs anywhere the host
# toolchain runs (it compiles nothing that needs the target's headers).
set -u

clang=$1
triple=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for option in "$@"; do
    case $option in
        -Wl,*) continue ;;
    esac
    if "$clang" --target="$triple" -Werror=unused-command-line-argument -Werror=unknown-warning-option \
            -Werror=ignored-optimization-argument -Werror=option-ignored -c -x c /dev/null -o "$tmp/o" \
            "$option" > "$tmp/err" 2>&1 && [ ! -s "$tmp/err" ]; then
        continue
    fi
    why=$(grep -m 1 -E 'error|warning' "$tmp/err" | sed -e 's/^[^:]*: //' -e 's/\t/ /g')
    printf '%s\t%s\n' "$option" "${why:-clang does not take it}"
done
