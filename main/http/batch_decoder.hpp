// Decodes the body of POST /v1/batches into a batch_request, exactly as the contract says.
// A pure function (no actors, no I/O): the HTTP front calls it, and so does the libFuzzer target.
#pragma once

#include "messages/task.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace taskpipe::http {

enum class decode_status : std::uint8_t {
  ok,
  invalid_json,   ///< not well-formed JSON (invalid UTF-8 and lone surrogates included)
  invalid_batch,  ///< well-formed, but not the batch schema
};

/// Deepest nesting of arrays and objects the decoder accepts; deeper input is `invalid_json`
/// (RFC 8259 §9 lets a parser limit nesting). The batch schema itself needs a depth of 3.
inline constexpr std::size_t max_json_depth = 64;

/// Upper bound of a batch's `timeout_ms`.
inline constexpr std::uint64_t max_timeout_ms = 3'600'000;

struct decode_result {
  decode_status status = decode_status::ok;
  /// For errors, what is wrong and where: "invalid JSON at byte 12: ..." or a path such as
  /// "tasks[3].id: expected an integer from 1 to 9223372036854775807".
  std::string detail;
  /// For ok: the batch. Holds at most `max_tasks` tasks (see task_count).
  batch_request batch;
  /// How many tasks the body holds; when it exceeds `max_tasks`, only the first `max_tasks` were
  /// kept (the caller refuses such a batch anyway) so memory stays bounded.
  std::size_t task_count = 0;
};

/// Decodes a batch. Checks well-formedness over the whole body first (so a body that is both
/// malformed and off-schema is `invalid_json`), then reports the first schema violation in
/// document order.
///
/// Built with simdjson (TASKPIPE_HAVE_SIMDJSON), bodies up to `fast_path_max_bytes` are parsed
/// with simdjson's validating DOM parser first (about 8x faster than nlohmann's lexer) and walked
/// through the same schema checks; whenever simdjson rejects a body, the reference decoder below
/// decides, so every error detail (byte offsets included) comes from one place. The fuzz target
/// checks that both paths agree on every input.
decode_result decode_batch(std::string_view body,
                           std::size_t max_tasks = std::numeric_limits<std::size_t>::max());

/// The reference decoder: nlohmann-json's SAX parser only (iterative, no DOM).
decode_result decode_batch_reference(std::string_view body,
                                     std::size_t max_tasks
                                     = std::numeric_limits<std::size_t>::max());

/// Whether decode_batch has the simdjson fast path.
bool decoder_has_fast_path();

/// Largest body the fast path takes (its DOM costs memory in proportion to the body).
inline constexpr std::size_t fast_path_max_bytes = 4 * 1024 * 1024;

} // namespace taskpipe::http
