#include "store/memory/memory_journal.hpp"

#include <algorithm>

namespace taskpipe {

namespace {

bool expired(bool finished, std::int64_t finished_ms, std::int64_t expired_before_ms) {
  return finished && finished_ms < expired_before_ms;
}

} // namespace

const memory_journal::entry* memory_journal::finished_entry(std::uint64_t batch,
                                                            std::int64_t expired_before_ms) const {
  auto i = batches_.find(batch);
  if (i == batches_.end() || !i->second.finished
      || expired(true, i->second.finished_ms, expired_before_ms))
    return nullptr;
  return &i->second;
}

caf::error memory_journal::journal(const std::vector<journaled_batch>& batches,
                                   std::int64_t expired_before_ms) {
  // All or nothing, as one transaction: check every batch before keeping any.
  for (const auto& b : batches) {
    if (batches_.count(b.batch) != 0)
      return storage_error("journaling batch " + batch_id_text(b.batch)
                           + " failed: the batch number is taken");
    if (b.idempotency_key.empty())
      continue;
    auto k = keys_.find(b.idempotency_key);
    if (k == keys_.end())
      continue;
    const auto& owner = batches_.at(k->second);
    if (!expired(owner.finished, owner.finished_ms, expired_before_ms))
      return storage_error("journaling batch " + batch_id_text(b.batch)
                           + " failed: the idempotency key is taken");
  }
  for (const auto& b : batches) // an expired batch's key is free (not yet purged)
    if (!b.idempotency_key.empty())
      if (auto k = keys_.find(b.idempotency_key); k != keys_.end()) {
        batches_.at(k->second).admitted.idempotency_key.clear();
        keys_.erase(k);
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
    e.finished_ms = o.finished_ms;
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

caf::expected<batch_report> memory_journal::finished_report(std::uint64_t batch,
                                                            std::int64_t expired_before_ms) const {
  const auto* e = finished_entry(batch, expired_before_ms);
  if (e == nullptr)
    return make_store_error(failure_code::not_found, "no finished batch " + batch_id_text(batch));
  batch_report r;
  r.batch_id = batch_id_text(batch);
  r.state = e->state;
  r.total = e->total;
  r.succeeded = e->succeeded;
  r.failed = e->failures.size();
  r.elapsed_ms = e->elapsed_ms;
  r.finished_ms = e->finished_ms;
  r.failures = e->failures;
  return r;
}

caf::expected<failure_page> memory_journal::failures_after(std::uint64_t batch,
                                                           std::int64_t after, std::size_t limit,
                                                           std::int64_t expired_before_ms) const {
  const auto* e = finished_entry(batch, expired_before_ms);
  if (e == nullptr)
    return make_store_error(failure_code::not_found, "no finished batch " + batch_id_text(batch));
  const auto& all = e->failures;  // sorted by id, then position
  auto i = std::upper_bound(all.begin(), all.end(), after,
                            [](std::int64_t a, const task_failure& f) { return a < f.id; });
  failure_page page;
  page.batch_id = batch_id_text(batch);
  limit = std::max<std::size_t>(limit, 1);
  for (; i != all.end(); ++i) {
    if (page.failures.size() >= limit && i->id != page.failures.back().id) {
      page.more = true;
      page.next = page.failures.back().id;
      break;
    }
    page.failures.push_back(*i);
  }
  return page;
}

caf::expected<key_owner> memory_journal::find_idempotency_key(const std::string& key,
                                                              std::int64_t expired_before_ms) const {
  auto i = keys_.find(key);
  if (i == keys_.end())
    return key_owner{};
  const auto& owner = batches_.at(i->second);
  if (expired(owner.finished, owner.finished_ms, expired_before_ms))
    return key_owner{};
  return key_owner{i->second, owner.admitted.body_digest};
}

caf::expected<bool> memory_journal::purge_expired(std::int64_t expired_before_ms) {
  for (auto i = batches_.begin(); i != batches_.end();) {
    const auto& e = i->second;
    if (!expired(e.finished, e.finished_ms, expired_before_ms)) {
      ++i;
      continue;
    }
    if (!e.admitted.idempotency_key.empty())
      keys_.erase(e.admitted.idempotency_key);
    i = batches_.erase(i);
  }
  return false;
}

} // namespace taskpipe
