#!/usr/bin/env bash
# Builds the libFuzzer targets of the HTTP front with clang and runs each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   SECONDS per target (default 60); TARGET: decoder,
#                                           request (default: both); FUZZ_JOBS=N runs N processes
#
# decoder: the batch decoder alone (bodies up to 64 KiB; fast path against the reference).
# request: raw bytes of one client connection through the whole request path (Beast parser,
#          limits, router, handlers, decoder, writers) of a real server on loopback, the node's
#          backend faked; -malloc_limit_mb catches any allocation above the front's limits.
# Needs Debian's clang-14 and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes), and
# libsimdjson-dev when the build uses simdjson:
#   apt-get install -y clang-14 libclang-rt-14-dev libsimdjson-dev
# Seed corpora are tests/http/fuzz/corpus/ and tests/http/fuzz/request_corpus/ (read only); new
# inputs found go to build-fuzz/<target>-corpus/, crashes to build-fuzz/artifacts/. Exits non-zero
# when a fuzzer finds a crash, a leak, undefined behaviour, too much memory, or a broken invariant.
set -euo pipefail

seconds="${1:-60}"
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(decoder request)
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
mkdir -p "$out/artifacts"
# With simdjson (libsimdjson-dev) the decoder also runs (and is checked on) its fast path.
simdjson=()
if [[ -f /usr/include/simdjson.h ]]; then
  simdjson=(-DTASKPIPE_HAVE_SIMDJSON=1 -lsimdjson)
fi
# messages/names.cpp maps refusals to caf::error: hence -lcaf_core below.
codec=("$root/main/http/batch_decoder.cpp" "$root/main/http/json_writer.cpp" "$root"/messages/{names,json_text,report}.cpp)
front=("$root"/main/http/{request_text,router,responses,handlers,session,server,metrics_text,access_log}.cpp
       "$root"/main/http/{event_stream,dashboard_page}.cpp "$root"/main/log.cpp)
parallel=()
if [[ "${FUZZ_JOBS:-1}" -gt 1 ]]; then
  parallel=(-fork="$FUZZ_JOBS")
fi

for target in "${targets[@]}"; do
  case "$target" in
    decoder)
      sources=("${codec[@]}" "$root/tests/http/fuzz/batch_decoder_fuzz.cpp")
      seeds="$root/tests/http/fuzz/corpus"
      # Bodies up to 64 KiB; the decoder alone must stay small.
      options=(-dict="$root/tests/http/fuzz/json.dict" -max_len=65536 -rss_limit_mb=2048) ;;
    request)
      # Boost 1.74 looks for <experimental/coroutine> under clang; libstdc++ 12 has <coroutine>.
      # The embedded OpenAPI document, as api/CMakeLists.txt generates it.
      mkdir -p "$root/build-fuzz"
      shopt -u patsub_replacement 2>/dev/null || true
      template="$(<"$root/api/openapi_document.cpp.in")"
      printf '%s\n' "${template/@TASKPIPE_OPENAPI_JSON@/$(<"$root/api/openapi.json")}" \
        >"$root/build-fuzz/openapi_document.cpp"
      # The dashboard page, embedded as main/http/CMakeLists.txt does it.
      cmake -DTASKPIPE_DASHBOARD_OUTPUT="$root/build-fuzz/dashboard_assets.cpp" \
        -P "$root/main/http/dashboard/embed.cmake"
      sources=("${codec[@]}" "${front[@]}" "$root/build-fuzz/openapi_document.cpp"
               "$root/build-fuzz/dashboard_assets.cpp"
               "$root/tests/http/fuzz/request_fuzz.cpp"
               -DBOOST_ASIO_HAS_CO_AWAIT=1)
      seeds="$root/tests/http/fuzz/request_corpus"
      # Inputs large enough for the worker pool (over 64 KiB); the fake front's limits are 1 MiB
      # per body and 4 MiB in flight, so no single allocation may come near 64 MiB.
      options=(-dict="$root/tests/http/fuzz/http.dict" -max_len=200000 -rss_limit_mb=1024
               -malloc_limit_mb=64) ;;
    *)
      echo "fuzz.sh: unknown target $target (decoder, request)" >&2
      exit 2 ;;
  esac
  binary="$out/${target}_fuzz"
  mkdir -p "$out/$target-corpus"
  echo "fuzz.sh: building $binary with $cxx ${simdjson[*]}"
  # -fno-sanitize=function: clang 14 cannot emit that check's prologue for split coroutines.
  "$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize=function -fno-sanitize-recover=undefined \
    -I"$root" "${sources[@]}" "${simdjson[@]}" -lcaf_core -lfmt -pthread -o "$binary"
  echo "fuzz.sh: fuzzing $target for ${seconds} s"
  # -timeout: one input may take at most 10 s.
  "$binary" "$out/$target-corpus" "$seeds" "${parallel[@]}" "${options[@]}" \
    -max_total_time="$seconds" -timeout=10 -artifact_prefix="$out/artifacts/$target-" \
    -print_final_stats=1
  echo "fuzz.sh: $target: no crash in ${seconds} s"
done
