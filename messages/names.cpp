// Text names of the message enums: the exact words of the contract.
#include "messages/outcome.hpp"
#include "messages/task.hpp"


namespace taskpipe {

namespace {

#define TASKPIPE_TASK_TYPE_NAME(name, text) text,
constexpr std::string_view task_type_names[] = {TASKPIPE_TASK_TYPES(TASKPIPE_TASK_TYPE_NAME)};
#undef TASKPIPE_TASK_TYPE_NAME
constexpr std::string_view stage_names[] = {TASKPIPE_STAGES(TASKPIPE_ENUMERATOR_NAME) "pipeline"};

template <class Enum, std::size_t N>
bool parse(const std::string_view (&names)[N], std::string_view text, Enum& out) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) {
      out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

template <std::size_t N>
std::string name(const std::string_view (&names)[N], std::size_t i) {
  return i < N ? std::string{names[i]} : std::string{"unknown"};
}

} // namespace

std::string to_string(task_type x) {
  return name(task_type_names, static_cast<std::size_t>(x));
}

bool from_string(std::string_view text, task_type& out) {
  return parse(task_type_names, text, out);
}

std::string to_string(stage x) {
  return name(stage_names, static_cast<std::size_t>(x));
}

bool from_string(std::string_view text, stage& out) {
  return parse(stage_names, text, out);
}

std::string to_string(failure_code x) {
  return name(failure_code_names, static_cast<std::size_t>(x));
}

bool from_string(std::string_view text, failure_code& out) {
  return parse(failure_code_names, text, out);
}

std::string to_string(batch_state x) {
  switch (x) {
    case batch_state::running:
      return "running";
    case batch_state::done:
      return "done";
    case batch_state::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string to_string(refusal x) {
  switch (x) {
    case refusal::shutting_down:
      return "shutting_down";
    case refusal::overloaded:
      return "overloaded";
    case refusal::batch_too_large:
      return "batch_too_large";
    case refusal::unknown_batch:
      return "unknown_batch";
    case refusal::idempotency_key_reused:
      return "idempotency_key_reused";
  }
  return "unknown";
}

bool as_refusal(const caf::error& err, refusal& out) {
  if (!err || err.category() != caf::detail::error_factory<refusal>::category)
    return false;
  out = static_cast<refusal>(err.code());
  return true;
}

} // namespace taskpipe

namespace taskpipe {

std::string batch_id_text(std::uint64_t batch) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text = "b-0000000000000000";
  for (int i = 17; i >= 2; --i, batch >>= 4)
    text[static_cast<std::size_t>(i)] = digits[batch & 0xF];
  return text;
}

bool parse_batch_id(std::string_view text, std::uint64_t& out) {
  if (text.size() != 18 || text.substr(0, 2) != "b-")
    return false;
  std::uint64_t value = 0;
  for (auto c : text.substr(2)) {
    value <<= 4;
    if (c >= '0' && c <= '9')
      value |= static_cast<std::uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      value |= static_cast<std::uint64_t>(c - 'a' + 10);
    else
      return false;
  }
  out = value;
  return true;
}

} // namespace taskpipe
