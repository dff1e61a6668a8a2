#include "store/memory/memory_journal.hpp"

#include <algorithm>

namespace taskpipe {

caf::error memory_journal::journal(const std::vector<journaled_batch>& batches) {
  // All or nothing, as one transaction: check every batch before keeping any.
  for (const auto& b : batches) {
    if (batches_.count(b.batch) != 0)
      return storage_error("journaling batch " + batch_id_text(b.batch)
                           + " failed: the batch number is taken");
    if (!b.idempotency_key.empty() && keys_.count(b.idempotency_key) != 0)
      return storage_error("journaling batch " + batch_id_text(b.batch)
                           + " failed: the idempotency key is taken");
  }
  for (const auto& b : batches) {
    auto& e = batches_[b.batch];
    e.admitted.batch = b.batch;
    e.admitted.admitted_ms = b.admitted_ms;
    e.admitted.deadline_ms = b.deadline_ms;
    e.admitted.idempotency_key = b.idempotency_key;
    e.admitted.body_digest = b.body_digest;
    e.tasks = encode_tasks(b.tasks);
    e.total = b.tasks.size();
    if (!b.idempotency_key.empty())
      keys_.emplace(b.idempotency_key, b.batch);
  }
  return caf::none;
}

caf::error memory_journal::record_outcomes(const std::vector<batch_outcome>& outcomes) {
  for (const auto& o : outcomes)
    if (batches_.count(o.batch) == 0)
      return storage_error("recording the outcome of " + batch_id_text(o.batch)
                           + " failed: no such batch");
  for (const auto& o : outcomes) {
    auto& e = batches_[o.batch];
    if (o.finished_ms == 0) {
      e.cancelled = true;
      continue;
    }
    e.finished = true;
    e.state = o.state;
    e.elapsed_ms = o.elapsed_ms;
    e.succeeded = o.succeeded;
    e.failures = o.failures;
    std::sort(e.failures.begin(), e.failures.end(), [](const auto& x, const auto& y) {
      return x.id != y.id ? x.id < y.id : x.index < y.index;
    });
    e.tasks = std::string{};
  }
  return caf::none;
}

caf::expected<resumable_batches>
memory_journal::unfinished_batches(const has_row_fn& notified, const has_row_fn& applied) const {
  resumable_batches result;
  for (const auto& [number, e] : batches_) {
    if (e.finished)
      continue;
    resumable_batch r;
    r.admitted = e.admitted;
    if (!decode_tasks(e.tasks, r.admitted.tasks))
      return storage_error("the journal of batch " + batch_id_text(number) + " cannot be read");
    r.cancelled = e.cancelled;
    for (const auto& t : r.admitted.tasks) {
      if (notified(number, t.id))
        r.notified_ids.push_back(t.id);
      if (applied(number, t.id))
        r.applied_ids.push_back(t.id);
    }
    for (auto* ids : {&r.notified_ids, &r.applied_ids}) { // a repeated id has one row
      std::sort(ids->begin(), ids->end());
      ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
    }
    result.batches.push_back(std::move(r));
  }
  std::sort(result.batches.begin(), result.batches.end(), [](const auto& x, const auto& y) {
    return x.admitted.admitted_ms < y.admitted.admitted_ms;
  });
  return result;
}

caf::expected<batch_report> memory_journal::finished_report(std::uint64_t batch) const {
  auto i = batches_.find(batch);
  if (i == batches_.end() || !i->second.finished)
    return make_store_error(failure_code::not_found, "no finished batch " + batch_id_text(batch));
  const auto& e = i->second;
  batch_report r;
  r.batch_id = batch_id_text(batch);
  r.state = e.state;
  r.total = e.total;
  r.succeeded = e.succeeded;
  r.failed = e.failures.size();
  r.elapsed_ms = e.elapsed_ms;
  r.failures = e.failures;
  return r;
}

caf::expected<key_owner> memory_journal::find_idempotency_key(const std::string& key) const {
  auto i = keys_.find(key);
  if (i == keys_.end())
    return key_owner{};
  return key_owner{i->second, batches_.at(i->second).admitted.body_digest};
}

} // namespace taskpipe
