#include "store/task_store.hpp"

#include "store/memory/memory_store.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <caf/make_message.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace taskpipe {

// -- errors ---------------------------------------------------------------------------------------

caf::error make_store_error(failure_code code, std::string reason) {
  return caf::error{static_cast<std::uint8_t>(static_cast<std::uint8_t>(code) + 1),
                    store_error_category, caf::make_message(std::move(reason))};
}

caf::error storage_error(std::string reason) {
  return make_store_error(failure_code::storage_error, std::move(reason));
}

failure_code code_of(const caf::error& err) {
  if (err && err.category() == store_error_category && err.code() > 0)
    return static_cast<failure_code>(err.code() - 1);
  return failure_code::storage_error;
}

std::string reason_of(const caf::error& err) {
  if (!err)
    return {};
  const auto& ctx = err.context();
  if (err.category() == store_error_category && ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return to_string(err);
}

// -- the interface --------------------------------------------------------------------------------

task_store::~task_store() = default;

namespace {

/// Nothing of `group` was written (`err`): every task that had passed fails instead.
void fail_group(std::span<chunk_work> group, const caf::error& err) {
  auto why = reason_of(err);
  for (auto& work : group)
    for (auto& result : work.results)
      if (!result)
        result = storage_error(fmt::format("{} commit failed: {}", to_string(work.where), why));
}

} // namespace

void task_store::run_group(std::span<chunk_work> group) {
  begin();
  for (auto& work : group)
    apply_chunk(work.where, work.tasks, work.results);
  if (auto err = commit())
    fail_group(group, err);
}

void task_store::run_flush(store_flush& flush) {
  if (!joins_journal_to_group()) {
    if (!flush.journal.empty())
      flush.journal_error = journal(flush.journal);
    if (!flush.group.empty())
      run_group(flush.group);
    if (!flush.outcomes.empty())
      flush.outcomes_error = record_outcomes(flush.outcomes);
    return;
  }
  if (flush.empty())
    return;
  begin();
  if (!flush.journal.empty())
    flush.journal_error = journal(flush.journal);
  for (auto& work : flush.group)
    apply_chunk(work.where, work.tasks, work.results);
  if (!flush.outcomes.empty())
    flush.outcomes_error = record_outcomes(flush.outcomes);
  if (auto err = commit()) {
    if (!flush.journal.empty() && !flush.journal_error)
      flush.journal_error = err;
    if (!flush.outcomes.empty() && !flush.outcomes_error)
      flush.outcomes_error = err;
    fail_group(flush.group, err);
  }
}

bool task_store::joins_journal_to_group() const {
  return false;
}

bool task_store::numbers_batches() const {
  return false;
}

caf::error task_store::number_batches(std::vector<journaled_batch>&) {
  return storage_error("this store does not number batches (the node numbers them)");
}

std::int64_t task_store::expired_before_ms() const {
  return unix_now_ms() - retention_.count();
}

caf::error task_store::apply(stage where, const task_envelope& t) {
  std::vector<task_envelope> one{t};
  std::vector<caf::error> results;
  apply_chunk(where, one, results);
  return std::move(results.front());
}

// -- opening a store ------------------------------------------------------------------------------

namespace {

caf::expected<std::unique_ptr<task_store>> open_kind(const store_options& opts) {
  switch (opts.kind) {
    case store_kind::sqlite:
      return open_sqlite_store(opts);
    case store_kind::memory:
      return make_memory_store();
    case store_kind::postgres:
      return open_postgres_store(opts);
  }
  return storage_error("unknown store kind");
}

} // namespace

caf::expected<std::unique_ptr<task_store>> open_store(const store_options& opts) {
  auto store = open_kind(opts);
  if (store)
    (*store)->set_retention(opts.retention);
  return store;
}

// -- shared by the implementations ----------------------------------------------------------------

std::int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string utc_text(std::int64_t unix_ms) {
  auto secs = unix_ms / 1000;
  auto milli = static_cast<int>(unix_ms % 1000);
  if (milli < 0) {
    milli += 1000;
    secs -= 1;
  }
  auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return buf;
}

void append_outbox_message(std::string& out, std::int64_t id, std::int64_t version,
                           std::string_view type, std::string_view summary) {
  out += "task ";
  out += std::to_string(id);
  out += " updated to version ";
  out += std::to_string(version);
  out += ": type ";
  out += type;
  out += ", summary \"";
  for (char c : summary) {
    if (c == '\\' || c == '"')
      out += '\\';
    out += c;
  }
  out += '"';
}

} // namespace taskpipe
