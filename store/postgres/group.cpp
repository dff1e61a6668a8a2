#include "store/postgres/group.hpp"

#include "store/postgres/schema.hpp"

#include <charconv>
#include <unordered_map>
#include <unordered_set>

namespace taskpipe::postgres {

namespace {

/// Appends one element of a text[] literal; NULL for none.
void append_text(std::string& out, const caf::optional<std::string>& value) {
  if (value)
    append_array_text(out, *value);
  else
    out += "NULL";
}

/// The arrays of one round: $1 batch ids, $2 task ids, $3 new types, $4 new summaries, $5 now;
/// validate only needs $1 = the task ids.
params round_params(stage where, const std::vector<task_envelope>& tasks,
                    const std::vector<std::size_t>& positions, const std::string& now) {
  std::string batches = "{", ids = "{", types = "{", summaries = "{";
  ids.reserve(positions.size() * 8);
  std::uint64_t last_batch = 0;
  std::string last_batch_text;
  for (std::size_t k = 0; k < positions.size(); ++k) {
    const auto& t = tasks[positions[k]];
    if (k > 0) {
      batches += ',';
      ids += ',';
      types += ',';
      summaries += ',';
    }
    ids += std::to_string(t.update.id);
    if (where == stage::validate)
      continue;
    if (k == 0 || t.batch != last_batch) {
      last_batch = t.batch;
      last_batch_text = batch_id_text(t.batch); // "b-" and hex digits: no quoting needed
    }
    batches += last_batch_text;
    append_text(types, t.update.type);
    append_text(summaries, t.update.summary);
  }
  params p;
  if (where == stage::validate) {
    p.add(ids + '}');
    return p;
  }
  p.add(batches + '}');
  p.add(ids + '}');
  p.add(types + '}');
  p.add(summaries + '}');
  p.add(now);
  return p;
}

const char* statement_of(stage where) {
  switch (where) {
    case stage::validate:
      return stmt::validate;
    case stage::audit:
      return stmt::audit;
    case stage::update:
      return stmt::update;
    case stage::notify:
      return stmt::notify;
    default:
      return nullptr;
  }
}

} // namespace

caf::error task_missing(stage where, std::int64_t id) {
  if (where == stage::validate)
    return make_store_error(failure_code::not_found,
                            "task " + std::to_string(id) + " does not exist");
  return storage_error("task " + std::to_string(id) + " does not exist any more");
}

std::vector<round> make_rounds(std::span<const chunk_work> group, const std::string& now) {
  std::vector<round> rounds;
  for (std::size_t w = 0; w < group.size(); ++w) {
    const auto& work = group[w];
    auto* statement = statement_of(work.where);
    if (!statement || work.tasks.empty())
      continue;
    // Update changes each task once per statement: the n-th occurrence of an id in the chunk
    // goes into the chunk's n-th round. Other stages take the chunk whole.
    std::vector<std::vector<std::size_t>> split(1);
    if (work.where == stage::update) {
      std::unordered_map<std::int64_t, std::size_t> seen;
      seen.reserve(work.tasks.size());
      for (std::size_t i = 0; i < work.tasks.size(); ++i) {
        auto n = seen[work.tasks[i].update.id]++;
        if (n >= split.size())
          split.resize(n + 1);
        split[n].push_back(i);
      }
    } else {
      split[0].resize(work.tasks.size());
      for (std::size_t i = 0; i < work.tasks.size(); ++i)
        split[0][i] = i;
    }
    for (auto& positions : split) {
      round r;
      r.work = w;
      r.statement = statement;
      r.p = round_params(work.where, work.tasks, positions, now);
      if (work.where == stage::update) {
        r.lock_statement = stmt::update_lock;
        r.lock_params.add(r.p.values[1]); // the task ids
      }
      r.positions = std::move(positions);
      rounds.push_back(std::move(r));
    }
  }
  return rounds;
}

void apply_answer(const round& r, const PGresult* answer, chunk_work& work) {
  auto rows = PQntuples(answer);
  if (rows == 0)
    return;
  std::unordered_set<std::int64_t> missing;
  for (int row = 0; row < rows; ++row) {
    const char* text = PQgetvalue(answer, row, 0);
    std::int64_t id = 0;
    std::from_chars(text, text + PQgetlength(answer, row, 0), id);
    missing.insert(id);
  }
  for (auto i : r.positions) {
    auto id = work.tasks[i].update.id;
    if (missing.count(id) != 0)
      work.results[i] = task_missing(work.where, id);
  }
}

} // namespace taskpipe::postgres
