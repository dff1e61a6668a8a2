// libFuzzer target for the batch decoder (scripts/fuzz.sh builds it with clang and
// -fsanitize=fuzzer,address,undefined). Besides "no crash, no leak, no UB", it checks invariants:
// the simdjson fast path and the nlohmann reference decoder give identical results; an accepted
// batch re-encodes to JSON that decodes to the same batch; a refused one has a detail and no tasks.
#include "main/http/batch_decoder.hpp"
#include "main/http/json_writer.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t max_tasks = 1000;

void require(bool ok) {
  if (!ok)
    __builtin_trap();
}

std::string encode(const taskpipe::batch_request& batch) {
  std::string out = "{\"tasks\":[";
  bool first = true;
  for (const auto& t : batch.tasks) {
    out += first ? "{\"id\":" : ",{\"id\":";
    first = false;
    out += std::to_string(t.id);
    if (t.type) {
      out += ",\"type\":";
      taskpipe::http::append_json_string(out, *t.type);
    }
    if (t.summary) {
      out += ",\"summary\":";
      taskpipe::http::append_json_string(out, *t.summary);
    }
    out += '}';
  }
  out += ']';
  if (batch.timeout_ms != 0)
    out += ",\"timeout_ms\":" + std::to_string(batch.timeout_ms);
  out += '}';
  return out;
}

bool same(const taskpipe::http::decode_result& a, const taskpipe::http::decode_result& b) {
  if (a.status != b.status || a.detail != b.detail || a.task_count != b.task_count
      || a.batch.timeout_ms != b.batch.timeout_ms || a.batch.tasks.size() != b.batch.tasks.size())
    return false;
  for (std::size_t i = 0; i < a.batch.tasks.size(); ++i) {
    const auto& x = a.batch.tasks[i];
    const auto& y = b.batch.tasks[i];
    if (x.id != y.id || static_cast<bool>(x.type) != static_cast<bool>(y.type)
        || static_cast<bool>(x.summary) != static_cast<bool>(y.summary)
        || (x.type && *x.type != *y.type) || (x.summary && *x.summary != *y.summary))
      return false;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body{reinterpret_cast<const char*>(data), size};
  auto r = taskpipe::http::decode_batch(body, max_tasks);
  // The simdjson fast path (when built in) and the nlohmann reference agree on everything.
  require(same(r, taskpipe::http::decode_batch_reference(body, max_tasks)));
  if (r.status != taskpipe::http::decode_status::ok) {
    require(!r.detail.empty());
    require(r.batch.tasks.empty());
    return 0;
  }
  require(r.detail.empty());
  require(r.batch.tasks.size() <= max_tasks);
  require(r.task_count >= r.batch.tasks.size());
  require(r.task_count <= max_tasks || r.batch.tasks.size() == max_tasks);
  require(r.batch.timeout_ms <= taskpipe::http::max_timeout_ms);
  for (const auto& t : r.batch.tasks)
    require(t.id >= 1);
  if (r.task_count > max_tasks)
    return 0;
  // Round trip: strings the decoder accepted are valid UTF-8, so re-encoding them is lossless.
  auto again = taskpipe::http::decode_batch(encode(r.batch), max_tasks);
  require(again.status == taskpipe::http::decode_status::ok);
  require(again.batch.timeout_ms == r.batch.timeout_ms);
  require(again.batch.tasks.size() == r.batch.tasks.size());
  for (std::size_t i = 0; i < r.batch.tasks.size(); ++i) {
    const auto& a = r.batch.tasks[i];
    const auto& b = again.batch.tasks[i];
    require(a.id == b.id);
    require(static_cast<bool>(a.type) == static_cast<bool>(b.type));
    require(!a.type || *a.type == *b.type);
    require(static_cast<bool>(a.summary) == static_cast<bool>(b.summary));
    require(!a.summary || *a.summary == *b.summary);
  }
  return 0;
}
