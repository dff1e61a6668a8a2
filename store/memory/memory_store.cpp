// The in-process task store: SQLite's behaviour (see sqlite/sqlite_store.cpp) without a file.
//
// Laid out for the hot path (a chunk of tasks with consecutive ids going through one stage):
// - Tasks: seed() is the only way a task comes to exist and it creates ids 1..count, so the tasks
//   are exactly the ids 1..rows_.size() and live in a vector indexed by id - 1: chunks walk it
//   sequentially. Any other id (0, negative, beyond the last seeded one) does not exist.
// - A row owns its summary; an update assigns into it, reusing its buffer, so a server updating
//   the same tasks again and again does not grow. The seeded summary "Task <id>" is not stored.
// - The per-(batch, task) rows of audit, applied_updates and outbox are kept as keys only: they
//   make retries no-ops and counts() match what SQLite would report. To keep 1M+ tasks x 3 row
//   kinds small, nothing else of them is stored; nothing in the interface reads the audit values,
//   the applied version or the outbox message back. (Keeping them costs ~120 MB per 1M tasks,
//   which `run --tasks=1000000 --latency=seed` cannot afford within its memory budget.)
//   The keys are kept per batch, per table, as the set of task ids (id_marks: bits over the span
//   of a batch's ids, so a 1,000-task batch costs a few hundred bytes however often the same tasks
//   are updated again), and a retried (batch, task) is found exactly.
// begin()/commit() only fix the group's timestamp: nothing in memory can fail to commit.
// The batch journal is memory_journal.*.
#include "store/memory/memory_store.hpp"

#include "store/memory/memory_journal.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace taskpipe {

namespace {

/// The ids of the tasks one batch wrote rows for in one table. A batch's ids are usually dense (a
/// client's batch, a generated range), so they are bits over the span they cover; ids that would
/// make the span much larger than the number of ids go to a hash set instead.
class id_marks {
public:
  bool contains(std::int64_t id) const {
    if (auto word = word_of(id); word < words_.size())
      return (words_[word] >> bit_of(id)) & 1u;
    return sparse_.count(id) != 0;
  }

  /// Adds `id`; it is not in the set yet.
  void insert(std::int64_t id) {
    ++count_;
    if (words_.empty())
      base_ = id - bit_of_unbased(id);
    if (id < base_) {
      auto grow = static_cast<std::size_t>((base_ - id + 63) / 64);
      if (!fits(words_.size() + grow))
        return void(sparse_.insert(id));
      words_.insert(words_.begin(), grow, 0);
      base_ -= static_cast<std::int64_t>(grow) * 64;
    }
    auto word = word_of(id);
    if (word >= words_.size()) {
      if (!fits(word + 1))
        return void(sparse_.insert(id));
      words_.resize(word + 1, 0);
    }
    words_[word] |= std::uint64_t{1} << bit_of(id);
  }

private:
  /// Bits stay worth it while they average at most 64 per id (one word), plus some slack.
  bool fits(std::size_t words) const {
    return words <= 16 + count_;
  }

  static std::int64_t bit_of_unbased(std::int64_t id) {
    return ((id % 64) + 64) % 64;
  }

  std::size_t word_of(std::int64_t id) const {
    // Ids below base_ wrap to huge values: out of range.
    return static_cast<std::size_t>(static_cast<std::uint64_t>(id - base_) / 64);
  }

  unsigned bit_of(std::int64_t id) const {
    return static_cast<unsigned>(static_cast<std::uint64_t>(id - base_) % 64);
  }

  std::int64_t base_ = 0;
  std::vector<std::uint64_t> words_;
  std::unordered_set<std::int64_t> sparse_;
  std::size_t count_ = 0;
};

class memory_store final : public task_store {
public:
  memory_store() {
    story_ = intern("Story");
  }

  bool blocks() const override {
    return false;
  }

  caf::error seed(std::int64_t count) override {
    if (count <= 0 || static_cast<std::uint64_t>(count) <= rows_.size())
      return caf::none;
    auto now = unix_now_ms();
    auto n = static_cast<std::size_t>(count);
    rows_.reserve(n);
    while (rows_.size() < n)
      rows_.push_back(task_row{1, now, {}, story_, true, 0});
    return caf::none;
  }

  caf::expected<stored_task> find(std::int64_t id) override {
    auto* row = row_of(id);
    if (!row)
      return not_found(id);
    return stored_task{id, type_names_[row->type], text(id, *row), row->version,
                       utc_text(row->updated_ms)};
  }

  caf::expected<store_counts> counts() override {
    return store_counts{rows_.size(), rows_in_[audit_table], rows_in_[applied_table],
                        rows_in_[outbox_table]};
  }

  caf::expected<std::uint64_t> last_batch() override {
    return last_batch_;
  }

  void begin() override {
    if (in_group_)
      return;
    in_group_ = true;
    now_ms_ = unix_now_ms();
  }

  caf::error commit() override {
    in_group_ = false;
    return caf::none;
  }

  void apply_chunk(stage where, const std::vector<task_envelope>& tasks,
                   std::vector<caf::error>& results) override {
    results.clear();
    results.resize(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i)
      results[i] = apply_one(where, tasks[i]);
  }

  caf::error journal(const std::vector<journaled_batch>& batches) override {
    auto err = journal_.journal(batches, expired_before_ms());
    if (!err)
      for (const auto& b : batches)
        last_batch_ = std::max(last_batch_, b.batch);
    return err;
  }

  caf::error record_outcomes(const std::vector<batch_outcome>& outcomes) override {
    return journal_.record_outcomes(outcomes);
  }

  caf::expected<resumable_batches> unfinished_batches() override {
    return journal_.unfinished_batches(
      [this](std::uint64_t batch, std::int64_t id) { return has_key(outbox_table, batch, id); },
      [this](std::uint64_t batch, std::int64_t id) { return has_key(applied_table, batch, id); });
  }

  caf::expected<batch_report> finished_report(std::uint64_t batch) override {
    return journal_.finished_report(batch, expired_before_ms());
  }

  caf::expected<failure_page> failures_after(std::uint64_t batch, std::int64_t after,
                                             std::size_t limit) override {
    return journal_.failures_after(batch, after, limit, expired_before_ms());
  }

  caf::expected<key_owner> find_idempotency_key(const std::string& key) override {
    return journal_.find_idempotency_key(key, expired_before_ms());
  }

  caf::expected<bool> purge_expired(std::size_t) override {
    return journal_.purge_expired(expired_before_ms());
  }

private:
  caf::error apply_one(stage where, const task_envelope& t) {
    auto id = t.update.id;
    switch (where) {
      case stage::validate:
        if (!row_of(id))
          return not_found(id);
        return caf::none;
      case stage::audit:
        return add_row(audit_table, t);
      case stage::update: {
        auto* row = row_of(id);
        if (!row)
          return vanished(id);
        if (has_key(applied_table, t.batch, id))
          return caf::none; // applied before
        if (row->newest_batch > t.batch) { // a later batch's value stands (per-key order)
          add_key(applied_table, t.batch, id);
          return caf::none;
        }
        row->newest_batch = t.batch;
        if (t.update.type)
          row->type = intern(*t.update.type);
        if (t.update.summary) {
          row->summary = *t.update.summary;  // reuses the row's buffer when it is big enough
          row->seed_summary = false;
        }
        row->version += 1;
        row->updated_ms = timestamp();
        add_key(applied_table, t.batch, id);
        return caf::none;
      }
      case stage::notify:
        return add_row(outbox_table, t);
      default:
        return caf::none; // no store work between stages
    }
  }

  /// The row tables whose (batch, task) keys a task row tracks.
  enum table : unsigned { audit_table, applied_table, outbox_table };

  struct task_row {
    std::int64_t version;
    std::int64_t updated_ms;
    std::string summary;
    std::uint32_t type;        ///< index into type_names_
    bool seed_summary = false; ///< the summary is seed()'s "Task <id>", not stored
    std::uint64_t newest_batch = 0; ///< the latest batch applied to it (per-key order)
  };

  /// Per batch, per table: the tasks it wrote rows for.
  using batch_marks = std::array<id_marks, 3>;

  /// The marks of `batch`, created on first use. Chunks hold one batch: the last one is cached
  /// (references into an unordered_map stay valid when it grows).
  batch_marks& marks_of(std::uint64_t batch) {
    if (last_marks_ == nullptr || marked_batch_ != batch) {
      last_marks_ = &marks_[batch];
      marked_batch_ = batch;
    }
    return *last_marks_;
  }

  task_row* row_of(std::int64_t id) noexcept {
    auto i = static_cast<std::uint64_t>(id) - 1; // ids < 1 wrap to huge values
    return i < rows_.size() ? &rows_[static_cast<std::size_t>(i)] : nullptr;
  }

  /// Whether the table has a row for (batch, task).
  bool has_key(table which, std::uint64_t batch, std::int64_t id) {
    return marks_of(batch)[which].contains(id);
  }

  /// Records a row for (batch, task) in the table; it has none yet.
  void add_key(table which, std::uint64_t batch, std::int64_t id) {
    marks_of(batch)[which].insert(id);
    ++rows_in_[which];
    last_batch_ = std::max(last_batch_, batch);
  }

  /// Audit and notify: a row keyed by (batch, task) and nothing else.
  caf::error add_row(table which, const task_envelope& t) {
    auto id = t.update.id;
    auto* row = row_of(id);
    if (!row)
      return vanished(id);
    if (!has_key(which, t.batch, id)) // else: written before
      add_key(which, t.batch, id);
    return caf::none;
  }

  static std::string text(std::int64_t id, const task_row& row) {
    if (row.seed_summary)
      return "Task " + std::to_string(id);
    return row.summary;
  }

  static caf::error not_found(std::int64_t id) {
    return make_store_error(failure_code::not_found,
                            "task " + std::to_string(id) + " does not exist");
  }

  static caf::error vanished(std::int64_t id) {
    return storage_error("task " + std::to_string(id) + " does not exist any more");
  }

  std::int64_t timestamp() const {
    return in_group_ ? now_ms_ : unix_now_ms();
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
  std::unordered_map<std::uint64_t, batch_marks> marks_;
  std::uint64_t last_batch_ = 0; ///< the largest batch number of any row
  std::uint64_t marked_batch_ = 0;
  batch_marks* last_marks_ = nullptr;
  std::uint64_t rows_in_[3] = {}; ///< per table: how many rows it has
  std::vector<std::string> type_names_;
  std::unordered_map<std::string, std::uint32_t> type_index_;
  std::uint32_t story_ = 0;
  bool in_group_ = false;
  std::int64_t now_ms_ = 0;
  memory_journal journal_;
};

} // namespace

std::unique_ptr<task_store> make_memory_store() {
  return std::make_unique<memory_store>();
}

} // namespace taskpipe
