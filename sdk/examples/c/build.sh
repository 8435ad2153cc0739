#!/bin/sh
# Builds keyword_values.wasm from keyword_values.c with Debian's clang and
# lld (apt-get install clang lld): freestanding C, no libc, no imports.
# The result is committed; conformance's TestCExample rebuilds it when clang
# is on PATH and checks that the bytes match, and .ci/run runs the kit on it.
set -eu
cd "$(dirname "$0")"
CC=${CC:-clang}
"$CC" --target=wasm32 -nostdlib -ffreestanding -O2 -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=65536 \
  -o "${1:-keyword_values.wasm}" keyword_values.c
