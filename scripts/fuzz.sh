#!/usr/bin/env bash
# Builds the libFuzzer target of the HTTP batch decoder with clang and runs it for a bounded time.
#
#   scripts/fuzz.sh [SECONDS]        default 60; FUZZ_JOBS=N runs N fuzzing processes
#
# Needs Debian's clang-14 and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes), and
# libsimdjson-dev when the build uses simdjson:
#   apt-get install -y clang-14 libclang-rt-14-dev libsimdjson-dev
# The seed corpus is tests/http/fuzz/corpus/ (read only); new inputs found go to
# build-fuzz/corpus/, crashes to build-fuzz/artifacts/. Exits non-zero when the fuzzer finds a
# crash, a leak, undefined behaviour, or a broken invariant.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
cxx="${FUZZ_CXX:-}"
if [[ -z "$cxx" ]]; then
  for candidate in clang++-14 clang++; do
    if command -v "$candidate" > /dev/null; then cxx="$candidate"; break; fi
  done
fi
if [[ -z "$cxx" ]]; then
  echo "fuzz.sh: clang++ not found (apt-get install -y clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

mkdir -p "$out/corpus" "$out/artifacts"
binary="$out/batch_decoder_fuzz"
sources=(
  "$root/main/http/batch_decoder.cpp"
  "$root/main/http/json_writer.cpp"
  "$root/messages/names.cpp"
  "$root/tests/http/fuzz/batch_decoder_fuzz.cpp"
)
# With simdjson (libsimdjson-dev) the target also checks the fast path against the reference.
extra=()
if [[ -f /usr/include/simdjson.h ]]; then
  extra=(-DTASKPIPE_HAVE_SIMDJSON=1 -lsimdjson)
fi
echo "fuzz.sh: building $binary with $cxx ${extra[*]}"
"$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" "${sources[@]}" "${extra[@]}" -o "$binary"

echo "fuzz.sh: fuzzing the batch decoder for ${seconds} s"
# -max_len: bodies up to 64 KiB; -timeout: one input may take at most 10 s;
# -rss_limit_mb: the decoder must stay bounded.
parallel=()
if [[ "${FUZZ_JOBS:-1}" -gt 1 ]]; then
  parallel=(-fork="$FUZZ_JOBS")
fi
"$binary" "$out/corpus" "$root/tests/http/fuzz/corpus" "${parallel[@]}" \
  -dict="$root/tests/http/fuzz/json.dict" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$out/artifacts/" -print_final_stats=1
echo "fuzz.sh: no crash in ${seconds} s"
