#include "main/http/batch_decoder.hpp"

#include <nlohmann/json.hpp>

#ifdef TASKPIPE_HAVE_SIMDJSON
#  include <simdjson.h>
#endif

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace taskpipe::http {

namespace {

using json = nlohmann::json;

constexpr std::uint64_t max_task_id = static_cast<std::uint64_t>(
  std::numeric_limits<std::int64_t>::max());

constexpr const char* id_expectation = "expected an integer from 1 to 9223372036854775807";
constexpr const char* timeout_expectation = "expected an integer from 1 to 3600000";

/// How a key looks in a path: `name` when it is a plain identifier, else a quoted, escaped and
/// shortened JSON string (keys are client text: keep details readable and bounded).
std::string key_text(const std::string& key) {
  constexpr std::size_t max_chars = 40;
  bool plain = !key.empty() && key.size() <= max_chars;
  for (auto c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
          || c == '-')) {
      plain = false;
      break;
    }
  }
  if (plain)
    return key;
  std::string out = "\"";
  std::size_t shown = 0;
  for (std::size_t i = 0; i < key.size() && shown < max_chars; ++i, ++shown) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else if (c >= 0x80) {
      // Copy a whole UTF-8 sequence (the parser already checked it is valid).
      std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      out.append(key, i, len);
      i += len - 1;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < key.size())
    out += "...";
  out += '"';
  return out;
}

/// Drops nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 6: " prefix
/// and its "; last read: '...'" part (raw client bytes, possibly huge or not UTF-8).
std::string parse_error_reason(const std::string& what) {
  std::string text = what;
  if (auto pos = text.find(": syntax error"); pos != std::string::npos)
    text = text.substr(pos + 2);
  else if (auto colon = text.find("column "); colon != std::string::npos) {
    if (auto after = text.find(": ", colon); after != std::string::npos)
      text = text.substr(after + 2);
  }
  if (auto last = text.find("; last read: '"); last != std::string::npos) {
    // Keep what follows the quoted token, e.g. "; expected end of input".
    auto tail = text.rfind("'; ");
    std::string rest = tail != std::string::npos && tail > last ? text.substr(tail + 1) : "";
    text = text.substr(0, last) + rest;
  }
  return text;
}

/// The SAX handler: checks the schema while nlohmann's (iterative, non-recursive) parser checks
/// well-formedness. After the first schema violation it only tracks depth, so that the rest of the
/// body is still checked for well-formedness.
class batch_sax {
public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  batch_sax(decode_result& out, std::size_t max_tasks) : out_(out), max_tasks_(max_tasks) {
  }

  bool null() {
    return value(kind::null, 0);
  }

  bool boolean(bool) {
    return value(kind::boolean, 0);
  }

  bool number_integer(number_integer_t) {
    // nlohmann reports only negative integers here: never a valid id or timeout.
    return value(kind::negative, 0);
  }

  bool number_unsigned(number_unsigned_t x) {
    return value(kind::unsigned_int, x);
  }

  bool number_float(number_float_t, const string_t&) {
    return value(kind::fraction, 0);
  }

  bool string(string_t& x) {
    if (failed())
      return true;
    if (ctx_ == ctx::task && (pending_ == field::type || pending_ == field::summary)) {
      if (pending_ == field::type)
        current_.type = std::move(x);
      else
        current_.summary = std::move(x);
      pending_ = field::none;
      return true;
    }
    return value(kind::string, 0);
  }

  bool binary(binary_t&) {
    return value(kind::string, 0);  // not produced by the JSON parser
  }

  bool start_object(std::size_t) {
    if (!enter())
      return false;
    if (failed())
      return true;
    switch (ctx_) {
      case ctx::top:
        ctx_ = ctx::root;
        return true;
      case ctx::tasks:
        ctx_ = ctx::task;
        current_ = task_update{};
        seen_id_ = seen_type_ = seen_summary_ = false;
        return true;
      default:
        return value(kind::object, 0);
    }
  }

  bool end_object() {
    leave();
    if (failed())
      return true;
    if (ctx_ == ctx::task) {
      if (!seen_id_)
        return fail(task_path() + ".id: missing; " + id_expectation);
      if (out_.batch.tasks.size() < max_tasks_)
        out_.batch.tasks.emplace_back(std::move(current_));
      ++out_.task_count;
      ++task_index_;
      ctx_ = ctx::tasks;
      return true;
    }
    // ctx::root: the document's end.
    if (!seen_tasks_)
      return fail("tasks: missing; expected an array of tasks");
    ctx_ = ctx::finished;
    return true;
  }

  bool start_array(std::size_t) {
    if (!enter())
      return false;
    if (failed())
      return true;
    if (ctx_ == ctx::root && pending_ == field::tasks) {
      ctx_ = ctx::tasks;
      pending_ = field::none;
      return true;
    }
    return value(kind::array, 0);
  }

  bool end_array() {
    leave();
    if (failed())
      return true;
    ctx_ = ctx::root;  // only the tasks array is ever entered without failing
    return true;
  }

  bool key(string_t& k) {
    if (failed())
      return true;
    if (ctx_ == ctx::root) {
      if (k == "tasks")
        return take_key(seen_tasks_, field::tasks);
      if (k == "timeout_ms")
        return take_key(seen_timeout_, field::timeout_ms);
      return fail(key_text(k) + ": unknown field; expected tasks or timeout_ms");
    }
    // ctx::task
    if (k == "id")
      return take_key(seen_id_, field::id);
    if (k == "type")
      return take_key(seen_type_, field::type);
    if (k == "summary")
      return take_key(seen_summary_, field::summary);
    return fail(task_path() + "." + key_text(k) + ": unknown field; expected id, type or summary");
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) {
    json_error(position, parse_error_reason(ex.what()));
    return false;
  }

  /// For an already validated document: no need to look past the first schema error.
  void stop_at_first_error() {
    stop_at_first_error_ = true;
  }

  bool stopped() const {
    return stop_at_first_error_ && failed();
  }

  /// Set when the parser stopped because the nesting got too deep.
  bool too_deep() const {
    return too_deep_;
  }

  /// Where the syntax error was (valid after parse_error was called).
  std::size_t json_error_offset() const {
    return json_error_offset_;
  }

private:
  enum class ctx : std::uint8_t { top, root, tasks, task, finished };
  enum class field : std::uint8_t { none, tasks, timeout_ms, id, type, summary };
  enum class kind : std::uint8_t {
    null,
    boolean,
    negative,
    unsigned_int,
    fraction,
    string,
    object,
    array
  };

  bool failed() const {
    return !out_.detail.empty();
  }

  bool fail(std::string detail) {
    out_.status = decode_status::invalid_batch;
    out_.detail = std::move(detail);
    return true;  // keep parsing: well-formedness is checked over the whole body
  }

  void json_error(std::size_t position, std::string reason) {
    // nlohmann counts the bytes read including the offending one; report its 0-based offset.
    auto offset = position > 0 ? position - 1 : 0;
    json_error_offset_ = offset;
    out_.status = decode_status::invalid_json;
    out_.detail = "invalid JSON at byte " + std::to_string(offset) + ": " + reason;
  }

  bool enter() {
    if (++depth_ > max_json_depth) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  void leave() {
    --depth_;
  }

  bool take_key(bool& seen, field f) {
    if (seen)
      return fail(field_path(f) + ": duplicate key");
    seen = true;
    pending_ = f;
    return true;
  }

  /// The path of a known field (built only for error details).
  std::string field_path(field f) const {
    switch (f) {
      case field::tasks:
        return "tasks";
      case field::timeout_ms:
        return "timeout_ms";
      case field::id:
        return task_path() + ".id";
      case field::type:
        return task_path() + ".type";
      case field::summary:
        return task_path() + ".summary";
      case field::none:
        break;
    }
    return "body";
  }

  std::string task_path() const {
    return "tasks[" + std::to_string(task_index_) + "]";
  }

  bool value(kind k, std::uint64_t x) {
    if (failed())
      return true;
    switch (ctx_) {
      case ctx::top:
        return fail("body: expected a JSON object with a \"tasks\" array");
      case ctx::tasks:
        return fail(task_path() + ": expected an object");
      case ctx::root:
        if (pending_ == field::tasks)
          return fail("tasks: expected an array of tasks");
        // field::timeout_ms
        if (k != kind::unsigned_int || x < 1 || x > max_timeout_ms)
          return fail(std::string{"timeout_ms: "} + timeout_expectation);
        out_.batch.timeout_ms = x;
        pending_ = field::none;
        return true;
      case ctx::task:
        if (pending_ == field::id) {
          if (k != kind::unsigned_int || x < 1 || x > max_task_id)
            return fail(task_path() + ".id: " + id_expectation);
          current_.id = static_cast<std::int64_t>(x);
          pending_ = field::none;
          return true;
        }
        return fail(task_path() + (pending_ == field::type ? ".type" : ".summary")
                    + ": expected a string");
      case ctx::finished:
        break;
    }
    return true;
  }

  decode_result& out_;
  std::size_t max_tasks_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
  bool stop_at_first_error_ = false;
  std::size_t json_error_offset_ = 0;
  ctx ctx_ = ctx::top;
  field pending_ = field::none;
  bool seen_tasks_ = false;
  bool seen_timeout_ = false;
  bool seen_id_ = false;
  bool seen_type_ = false;
  bool seen_summary_ = false;
  std::size_t task_index_ = 0;
  task_update current_;
};

} // namespace

#ifdef TASKPIPE_HAVE_SIMDJSON

namespace {

/// Feeds a simdjson DOM (already validated) to the schema checks as SAX events, in document
/// order. Returns false when the walk cannot decide (too deep): the reference decoder then does.
bool walk(simdjson::dom::element e, batch_sax& sax) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      if (!sax.start_object(0))
        return false;
      for (auto field : simdjson::dom::object(e)) {
        std::string key{field.key};
        if (!sax.key(key) || !walk(field.value, sax))
          return false;
        if (sax.stopped())
          return true;
      }
      return sax.end_object();
    }
    case element_type::ARRAY: {
      if (!sax.start_array(0))
        return false;
      for (auto item : simdjson::dom::array(e)) {
        if (!walk(item, sax))
          return false;
        if (sax.stopped())
          return true;
      }
      return sax.end_array();
    }
    case element_type::INT64: {
      auto x = std::int64_t(e);
      return x < 0 ? sax.number_integer(x)
                   : sax.number_unsigned(static_cast<std::uint64_t>(x));
    }
    case element_type::UINT64:
      return sax.number_unsigned(std::uint64_t(e));
    case element_type::DOUBLE:
      return sax.number_float(double(e), {});
    case element_type::STRING: {
      std::string text{std::string_view(e)};
      return sax.string(text);
    }
    case element_type::BOOL:
      return sax.boolean(bool(e));
    case element_type::NULL_VALUE:
      return sax.null();
  }
  return false;
}

/// None when simdjson rejects the body (or the walk cannot decide): the reference decides.
bool decode_fast(std::string_view body, std::size_t max_tasks, decode_result& result) {
  if (body.size() > fast_path_max_bytes)
    return false;
  thread_local simdjson::dom::parser parser;
  thread_local bool ready = parser.allocate(64 * 1024, max_json_depth) == simdjson::SUCCESS;
  if (!ready)
    return false;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size(), true).get(doc) != simdjson::SUCCESS)
    return false;
  batch_sax sax{result, max_tasks};
  sax.stop_at_first_error();
  if (!walk(doc, sax) || sax.too_deep())
    return false;
  if (result.status != decode_status::ok) {
    result.batch = batch_request{};
    result.task_count = 0;
  }
  return true;
}

} // namespace

decode_result decode_batch(std::string_view body, std::size_t max_tasks) {
  decode_result result;
  if (decode_fast(body, max_tasks, result))
    return result;
  return decode_batch_reference(body, max_tasks);
}

bool decoder_has_fast_path() {
  return true;
}

#else

decode_result decode_batch(std::string_view body, std::size_t max_tasks) {
  return decode_batch_reference(body, max_tasks);
}

bool decoder_has_fast_path() {
  return false;
}

#endif

decode_result decode_batch_reference(std::string_view body, std::size_t max_tasks) {
  decode_result result;
  if (body.empty()) {
    result.status = decode_status::invalid_json;
    result.detail = "invalid JSON at byte 0: empty body";
    return result;
  }
  // nlohmann's lexer takes a NUL byte for the end of the input (for C strings), which would
  // accept `{"tasks":[]}<NUL>garbage`; a raw NUL is never valid JSON, so parse up to it and
  // report it unless an earlier error comes first.
  auto nul = body.find('\0');
  auto text = nul == std::string_view::npos ? body : body.substr(0, nul);
  batch_sax sax{result, max_tasks};
  bool ok = json::sax_parse(text.data(), text.data() + text.size(), &sax);
  if (nul != std::string_view::npos && !sax.too_deep()
      && (ok || sax.json_error_offset() >= nul)) {
    result.status = decode_status::invalid_json;
    result.detail = "invalid JSON at byte " + std::to_string(nul) + ": unexpected NUL byte";
    ok = false;
  }
  if (!ok && sax.too_deep()) {
    // Find the byte where nesting first exceeds the limit (outside strings).
    std::size_t depth = 0;
    std::size_t offset = 0;
    bool in_string = false;
    bool escaped = false;
    for (std::size_t i = 0; i < body.size(); ++i) {
      char c = body[i];
      if (in_string) {
        if (escaped)
          escaped = false;
        else if (c == '\\')
          escaped = true;
        else if (c == '"')
          in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        if (++depth > max_json_depth) {
          offset = i;
          break;
        }
      } else if (c == ']' || c == '}') {
        --depth;
      }
    }
    result.status = decode_status::invalid_json;
    result.detail = "invalid JSON at byte " + std::to_string(offset) + ": nesting deeper than "
                    + std::to_string(max_json_depth) + " levels";
  }
  if (result.status != decode_status::ok) {
    result.batch = batch_request{};
    result.task_count = 0;
  }
  return result;
}

} // namespace taskpipe::http
