#include "actors/batch_resume.hpp"

#include "actors/stage_work.hpp"

#include <unordered_set>

namespace taskpipe {

resume_plan plan_resume(resumable_batch& r, std::int64_t now_ms) {
  auto& admitted = r.admitted;
  auto n = admitted.tasks.size();
  std::unordered_set<std::int64_t> notified(r.notified_ids.begin(), r.notified_ids.end());
  std::unordered_set<std::int64_t> applied(r.applied_ids.begin(), r.applied_ids.end());
  std::unordered_set<std::int64_t> seen;
  seen.reserve(n);
  bool expired = now_ms >= admitted.deadline_ms;
  resume_plan plan;
  plan.ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& u = admitted.tasks[i];
    auto index = static_cast<std::uint32_t>(i);
    plan.ids.push_back(u.id);
    bool duplicate = !seen.insert(u.id).second;
    task_envelope t{admitted.batch, index, duplicate, std::move(u)};
    if (duplicate) {
      if (auto failure = check_request(t))
        plan.failures.push_back(std::move(*failure));
      continue;
    }
    if (notified.count(t.update.id) != 0) {
      plan.succeeded.push_back(index);
      continue;
    }
    if (expired || r.cancelled) {
      bool was_applied = applied.count(t.update.id) != 0;
      plan.failures.push_back(task_failure{
        admitted.batch, index, t.update.id, was_applied ? stage::notify : stage::pipeline,
        expired ? failure_code::timeout : failure_code::cancelled,
        expired ? expired_while_down_reason(was_applied)
                : cancelled_while_down_reason(was_applied)});
      continue;
    }
    plan.to_run.push_back(std::move(t));
  }
  admitted.tasks.clear();
  return plan;
}

} // namespace taskpipe
