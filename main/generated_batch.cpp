#include "main/generated_batch.hpp"

#include <fmt/format.h>

namespace taskpipe {

namespace {

constexpr task_type type_cycle[] = {task_type::epic, task_type::story, task_type::sub_task,
                                    task_type::tech_task};

} // namespace

batch_request generate_batch(std::int64_t n, std::int64_t invalid_every) {
  batch_request req;
  req.tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t id = 1; id <= n; ++id) {
    task_update u;
    u.id = id;
    u.type = to_string(type_cycle[(id - 1) % 4]);
    bool invalid = invalid_every > 0 && id % invalid_every == 0;
    u.summary = invalid ? std::string{} : fmt::format("Updated task {}", id);
    req.tasks.push_back(std::move(u));
  }
  return req;
}

} // namespace taskpipe
