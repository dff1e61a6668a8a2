// The in-process task store: SQLite's behaviour (see sqlite_store.cpp) without a file.
//
// Laid out for the hot path (a chunk of tasks with consecutive ids going through one stage):
// - Tasks: seed() is the only way a task comes to exist and it creates ids 1..count, so the tasks
//   are exactly the ids 1..rows_.size() and live in a vector indexed by id - 1: chunks walk it
//   sequentially. Any other id (0, negative, beyond the last seeded one) does not exist.
// - Summaries live in an append-only arena (blocks of 1 MiB, each string length-prefixed) and rows
//   refer to them by a 64-bit handle, so that an update allocates nothing per task. The seeded
//   summary "Task <id>" is not stored at all (handle `seed_summary`). A replaced summary is not
//   freed: the arena grows by each update's new summary, as SQLite's audit table does.
// - The per-(batch, task) rows of audit, applied_updates and outbox are kept as keys only: they
//   make retries no-ops and counts() match what SQLite would report. To keep 1M+ tasks x 3 row
//   kinds small, nothing else of them is stored; nothing in the interface reads the audit values,
//   the applied version or the outbox message back. (Keeping them costs ~120 MB per 1M tasks,
//   which `run --tasks=1000000 --latency=seed` cannot afford within its memory budget.)
//   Each task row holds, per table, the latest batch that wrote a row for it; when a further
//   batch does, the earlier (batch, task) key moves to a small per-table hash set and the row
//   notes that it has keys there. So the common case (one batch per task) never touches a hash
//   table, and a retried (batch, task) is found exactly either way.
// begin()/commit() only fix the group's timestamp: nothing in memory can fail to commit.
#include "actors/store/task_store.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace taskpipe {

namespace {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string utc_text(std::int64_t ms) {
  auto secs = ms / 1000;
  auto milli = static_cast<int>(ms % 1000);
  if (milli < 0) {
    milli += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return buf;
}

/// A handle to a string in the text arena, or `seed_summary`.
using text_ref = std::uint64_t;
constexpr text_ref seed_summary = 0; ///< "Task <id>", the summary seed() gives

/// Append-only storage for strings: each is a 4-byte length and its bytes, in blocks that never
/// move. A handle is (block number + 1) << 32 | offset.
class text_arena {
public:
  text_ref add(std::string_view s) {
    if (s.size() > std::numeric_limits<std::uint32_t>::max() - sizeof(std::uint32_t))
      throw std::length_error("memory store: string too long");
    auto need = sizeof(std::uint32_t) + s.size();
    std::size_t block;
    std::size_t offset;
    if (need > block_size / 4) {
      // Large: a block of its own; the current block stays current.
      block = new_block(need);
      offset = 0;
    } else {
      if (used_ + need > current_size_) {
        current_ = new_block(block_size);
        current_size_ = block_size;
        used_ = 0;
      }
      block = current_;
      offset = used_;
      used_ += need;
    }
    auto len = static_cast<std::uint32_t>(s.size());
    char* p = blocks_[block].get() + offset;
    std::memcpy(p, &len, sizeof(len));
    if (!s.empty())
      std::memcpy(p + sizeof(len), s.data(), s.size());
    return (static_cast<text_ref>(block + 1) << 32) | offset;
  }

  /// The string behind a handle from add().
  std::string_view get(text_ref ref) const {
    const char* p = blocks_[(ref >> 32) - 1].get() + (ref & 0xFFFFFFFFu);
    std::uint32_t len;
    std::memcpy(&len, p, sizeof(len));
    return {p + sizeof(len), len};
  }

private:
  static constexpr std::size_t block_size = std::size_t{1} << 20;

  std::size_t new_block(std::size_t size) {
    if (blocks_.size() >= std::numeric_limits<std::uint32_t>::max() - 1)
      throw std::length_error("memory store: text arena full");
    blocks_.emplace_back(new char[size]); // not zeroed: every byte is written before it is read
    return blocks_.size() - 1;
  }

  std::vector<std::unique_ptr<char[]>> blocks_;
  std::size_t current_ = 0;      ///< the block small strings go to
  std::size_t current_size_ = 0; ///< its size; 0 while there is none
  std::size_t used_ = 0;         ///< bytes of it in use
};

/// A hash set of (batch, task id) keys; linear probing in one flat array, at most 70% full.
class key_set {
public:
  bool contains(std::uint64_t batch, std::int64_t id) const noexcept {
    if (slots_.empty())
      return false;
    auto mask = slots_.size() - 1;
    for (auto i = hash(batch, id) & mask;; i = (i + 1) & mask) {
      const auto& s = slots_[i];
      if (s.batch == batch && s.id == id)
        return true;
      if (is_empty(s))
        return false;
    }
  }

  void insert(std::uint64_t batch, std::int64_t id) {
    if ((size_ + 1) * 10 > slots_.size() * 7)
      grow();
    auto mask = slots_.size() - 1;
    for (auto i = hash(batch, id) & mask;; i = (i + 1) & mask) {
      auto& s = slots_[i];
      if (s.batch == batch && s.id == id)
        return;
      if (is_empty(s)) {
        s = slot{batch, id};
        ++size_;
        return;
      }
    }
  }

private:
  struct slot {
    std::uint64_t batch;
    std::int64_t id;
  };

  // No task has id INT64_MIN (tasks are ids 1..n), so no key is this one.
  static constexpr std::uint64_t empty_batch = std::numeric_limits<std::uint64_t>::max();
  static constexpr std::int64_t empty_id = std::numeric_limits<std::int64_t>::min();

  static bool is_empty(const slot& s) noexcept {
    return s.batch == empty_batch && s.id == empty_id;
  }

  static std::size_t hash(std::uint64_t batch, std::int64_t id) noexcept {
    auto h = batch * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(id);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return static_cast<std::size_t>(h);
  }

  void grow() {
    std::vector<slot> old(slots_.empty() ? 64 : slots_.size() * 2, slot{empty_batch, empty_id});
    old.swap(slots_);
    auto mask = slots_.size() - 1;
    for (auto& s : old) {
      if (is_empty(s))
        continue;
      auto i = hash(s.batch, s.id) & mask;
      while (!is_empty(slots_[i]))
        i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<slot> slots_;
  std::size_t size_ = 0;
};

class memory_store final : public task_store {
public:
  memory_store() {
    story_ = intern("Story");
  }

  void seed(std::int64_t count) override {
    if (count <= 0 || static_cast<std::uint64_t>(count) <= rows_.size())
      return;
    auto now = now_ms();
    auto n = static_cast<std::size_t>(count);
    rows_.reserve(n);
    while (rows_.size() < n)
      rows_.push_back(task_row{1, now, seed_summary, {0, 0, 0}, story_, 0});
  }

  caf::optional<stored_task> find(std::int64_t id) override {
    auto* row = row_of(id);
    if (!row)
      return caf::none;
    return stored_task{id, type_names_[row->type], text(id, row->summary), row->version,
                       utc_text(row->updated_ms)};
  }

  store_counts counts() override {
    return {rows_.size(), rows_in_[audit_table], rows_in_[applied_table], rows_in_[outbox_table]};
  }

  void begin() override {
    if (in_group_)
      return;
    in_group_ = true;
    now_ms_ = now_ms();
  }

  std::string commit() override {
    in_group_ = false;
    return {};
  }

  store_result apply(stage where, const task_envelope& t) override {
    auto id = t.update.id;
    switch (where) {
      case stage::validate:
        if (!row_of(id))
          return {store_result::kind::not_found, "task " + std::to_string(id) + " does not exist"};
        return store_result::ok();
      case stage::audit:
        return add_row(audit_table, t);
      case stage::update: {
        auto* row = row_of(id);
        if (!row)
          return vanished(id);
        if (has_key(*row, applied_table, t.batch, id))
          return store_result::ok(); // applied before
        if (t.update.type)
          row->type = intern(*t.update.type);
        if (t.update.summary)
          row->summary = texts_.add(*t.update.summary);
        row->version += 1;
        row->updated_ms = timestamp();
        add_key(*row, applied_table, t.batch, id);
        return store_result::ok();
      }
      case stage::notify:
        return add_row(outbox_table, t);
      default:
        return store_result::ok(); // no store work between stages
    }
  }

private:
  /// The row tables whose (batch, task) keys a task row tracks.
  enum table : unsigned { audit_table, applied_table, outbox_table };

  struct task_row {
    std::int64_t version;
    std::int64_t updated_ms;
    text_ref summary;
    /// Per table: the latest batch with a row for this task there (if bit t of `keys` is set).
    std::uint64_t latest[3];
    std::uint32_t type; ///< index into type_names_
    /// Bit t: table t has a row for this task (its batch in latest[t]); bit t + 3: and also rows
    /// of earlier batches, in earlier_[t].
    std::uint8_t keys;
  };

  task_row* row_of(std::int64_t id) noexcept {
    auto i = static_cast<std::uint64_t>(id) - 1; // ids < 1 wrap to huge values
    return i < rows_.size() ? &rows_[static_cast<std::size_t>(i)] : nullptr;
  }

  /// Whether the table has a row for (batch, the task).
  bool has_key(const task_row& row, table which, std::uint64_t batch, std::int64_t id) const {
    if ((row.keys & (1u << which)) == 0)
      return false;
    if (row.latest[which] == batch)
      return true;
    return (row.keys & (8u << which)) != 0 && earlier_[which].contains(batch, id);
  }

  /// Records a row for (batch, the task) in the table; it has none yet.
  void add_key(task_row& row, table which, std::uint64_t batch, std::int64_t id) {
    if ((row.keys & (1u << which)) != 0) {
      earlier_[which].insert(row.latest[which], id);
      row.keys = static_cast<std::uint8_t>(row.keys | (8u << which));
    }
    row.latest[which] = batch;
    row.keys = static_cast<std::uint8_t>(row.keys | (1u << which));
    ++rows_in_[which];
  }

  /// Audit and notify: a row keyed by (batch, task) and nothing else.
  store_result add_row(table which, const task_envelope& t) {
    auto id = t.update.id;
    auto* row = row_of(id);
    if (!row)
      return vanished(id);
    if (!has_key(*row, which, t.batch, id)) // else: written before
      add_key(*row, which, t.batch, id);
    return store_result::ok();
  }

  std::string text(std::int64_t id, text_ref ref) const {
    if (ref == seed_summary)
      return "Task " + std::to_string(id);
    return std::string{texts_.get(ref)};
  }

  static store_result vanished(std::int64_t id) {
    return {store_result::kind::storage_error,
            "task " + std::to_string(id) + " does not exist any more"};
  }

  std::int64_t timestamp() const {
    return in_group_ ? now_ms_ : now_ms();
  }

  /// Type names repeat (Validate allows four): each row keeps an index instead of a string.
  std::uint32_t intern(const std::string& name) {
    for (std::uint32_t i = 0; i < type_names_.size() && i < 8; ++i)
      if (type_names_[i] == name)
        return i;
    auto next = static_cast<std::uint32_t>(type_names_.size());
    auto [it, added] = type_index_.try_emplace(name, next);
    if (added)
      type_names_.push_back(name);
    return it->second;
  }

  std::vector<task_row> rows_; ///< task id - 1 -> task
  text_arena texts_;
  key_set earlier_[3];            ///< per table: keys of tasks' rows before their latest one
  std::uint64_t rows_in_[3] = {}; ///< per table: how many rows it has
  std::vector<std::string> type_names_;
  std::unordered_map<std::string, std::uint32_t> type_index_;
  std::uint32_t story_ = 0;
  bool in_group_ = false;
  std::int64_t now_ms_ = 0;
};

} // namespace

std::unique_ptr<task_store> make_memory_store() {
  return std::make_unique<memory_store>();
}

} // namespace taskpipe
