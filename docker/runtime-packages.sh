#!/bin/sh
# Prints, one per line, the Debian packages that provide the shared libraries
# the given ELF binaries load (ldd + dpkg -S). The image build installs exactly
# these in the runtime stage, so the list cannot drift from what is linked.
# Fails if a library is missing or belongs to no package.
#   usage: docker/runtime-packages.sh BINARY...
set -eu
[ "$#" -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
libs=$(mktemp)
pkgs=$(mktemp)
trap 'rm -f "$libs" "$pkgs"' EXIT
for bin in "$@"; do
  [ -f "$bin" ] || { echo "$0: $bin: no such file" >&2; exit 1; }
  if ldd "$bin" | grep -F 'not found' >&2; then
    echo "$0: $bin: unresolved libraries" >&2
    exit 1
  fi
  # "libfoo.so.1 => /path/libfoo.so.1 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
  ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' >> "$libs"
done
# With merged /usr a library may be listed under /lib or /usr/lib, and dpkg
# knows one spelling (of the path or of the file it links to): ask for all
# spellings of all libraries in one dpkg call (it is slow to start).
owners=$(mktemp)
trap 'rm -f "$libs" "$pkgs" "$owners"' EXIT
spellings() {
  real=$(readlink -f "$1")
  for p in "$1" "$real" "/usr$1" "/usr$real" "${1#/usr}" "${real#/usr}"; do echo "$p"; done
}
for lib in $(sort -u "$libs"); do spellings "$lib"; done | sort -u |
  xargs dpkg -S 2>/dev/null > "$owners" || true
for lib in $(sort -u "$libs"); do
  pkg=""
  for p in $(spellings "$lib"); do
    # "pkg[:arch][, pkg2]: /path"
    pkg=$(grep -F ": $p" "$owners" | awk -F': ' -v p="$p" '$2 == p { print $1; exit }' |
          sed 's/,.*//; s/:.*//')
    [ -n "$pkg" ] && break
  done
  if [ -z "$pkg" ]; then
    echo "$0: no package owns $lib" >&2
    exit 1
  fi
  echo "$pkg" >> "$pkgs"
done
sort -u "$pkgs"
