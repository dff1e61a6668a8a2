#include "actors/finished_reports.hpp"

#include <iterator>

namespace taskpipe {

namespace {

/// What an entry costs beyond its report: the list node, the index slot, the strings' headers.
constexpr std::size_t entry_overhead = 128;

} // namespace

std::size_t finished_entry::bytes() const {
  return (report ? report->bytes() : 0) + idempotency_key.capacity() + body_digest.capacity()
         + entry_overhead;
}

finished_reports::finished_reports(limits bounds, drop_fn on_drop)
  : bounds_(bounds), on_drop_(std::move(on_drop)) {
}

bool finished_reports::expired(const finished_entry& e, std::int64_t now_ms) const {
  return e.report && e.report->finished_ms < now_ms - bounds_.retention.count();
}

void finished_reports::drop(list::iterator i) {
  if (on_drop_)
    on_drop_(i->batch, i->entry);
  bytes_ -= i->bytes;
  index_.erase(i->batch);
  lru_.erase(i);
}

void finished_reports::insert(std::uint64_t batch, finished_entry entry, std::int64_t now_ms) {
  expire(now_ms);
  if (auto old = index_.find(batch); old != index_.end())
    drop(old->second);
  if (expired(entry, now_ms))
    return;
  auto cost = entry.bytes();
  if (cost > bounds_.max_bytes) // it would push out everything else and still not fit
    return;
  lru_.push_front(node{batch, std::move(entry), cost});
  index_.emplace(batch, lru_.begin());
  bytes_ += cost;
  while (!lru_.empty() && (index_.size() > bounds_.max_reports || bytes_ > bounds_.max_bytes))
    drop(std::prev(lru_.end()));
}

const finished_entry* finished_reports::find(std::uint64_t batch, std::int64_t now_ms) {
  auto i = index_.find(batch);
  if (i == index_.end())
    return nullptr;
  if (expired(i->second->entry, now_ms)) {
    drop(i->second);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, i->second);  // iterators stay valid
  return &i->second->entry;
}

const finished_entry* finished_reports::peek(std::uint64_t batch, std::int64_t now_ms) const {
  auto i = index_.find(batch);
  if (i == index_.end() || expired(i->second->entry, now_ms))
    return nullptr;
  return &i->second->entry;
}

void finished_reports::expire(std::int64_t now_ms) {
  if (swept_ && now_ms >= last_sweep_ms_ && now_ms - last_sweep_ms_ < 1000)
    return;
  swept_ = true;
  last_sweep_ms_ = now_ms;
  for (auto i = lru_.begin(); i != lru_.end();) {
    auto here = i++;
    if (expired(here->entry, now_ms))
      drop(here);
  }
}

} // namespace taskpipe
