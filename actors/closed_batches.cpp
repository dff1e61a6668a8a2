#include "actors/closed_batches.hpp"

#include <fmt/format.h>

namespace taskpipe {

std::string closed_reason(stage where, failure_code code) {
  return code == failure_code::cancelled
           ? fmt::format("batch cancelled while the task was in {} (not applied)", to_string(where))
           : fmt::format("batch deadline passed while the task was in {} ({})", to_string(where),
                         where == stage::notify ? "the update was applied"
                                                : "the update was not applied");
}

} // namespace taskpipe
