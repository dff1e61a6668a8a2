// store_bound: the store's limit, against which bench/pipeline_bench.sh measures taskpipe run.
//
// One thread, no actors, no messages: the same work `taskpipe run --latency=zero --tasks=N` asks
// of its store, through the store's own code (so the statements, chunk sizes, durability and
// journal are exactly those of the real store; nothing is skipped that the store does):
//   - the batch journaled at admission (one blob) and its outcome recorded at the end, both in
//     the timed part: run's elapsed_ms runs from the admission (before the journal write) to the
//     recorded outcome (the coordinator's cutting of chunks is not store work: it is not timed);
//   - Validate's request rules (check_request) on every task, in the thread as well;
//   - per 1,024-task chunk, each stage's store work, pipelined as the store actor sees it: a
//     group (one transaction, one commit with the store's durability) holds Validate of chunk g,
//     Audit of g-1, Update of g-2 and Notify of g-3 (a chunk's next stage can only run after the
//     commit that answered the previous one). --chunks-per-group=K puts K chunks of each stage
//     in a group (the real store's group commit takes whatever is queued).
// Prints one JSON line: tasks/s and rows/s (audit, applied-update and outbox rows written plus
// tasks changed, per second).
//
// Usage: store_bound --store=sqlite|memory [--db=PATH] [--tasks=N] [--durability=full|normal]
//                    [--chunks-per-group=K]
#include "actors/pipeline.hpp"
#include "actors/stage_work.hpp"
#include "main/generated_batch.hpp"
#include "store/journal.hpp"
#include "store/task_store.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace taskpipe;

namespace {

const std::size_t chunk_size = pipeline_config{}.chunk_size; // as the coordinator cuts them

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "store_bound: %s\n", why.c_str());
  std::exit(1);
}

std::string option(int argc, char** argv, const std::string& name, const std::string& fallback) {
  auto prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i)
    if (std::string arg = argv[i]; arg.rfind(prefix, 0) == 0)
      return arg.substr(prefix.size());
  return fallback;
}

} // namespace

int main(int argc, char** argv) {
  store_options opts;
  auto kind = option(argc, argv, "store", "sqlite");
  if (kind == "memory")
    opts.kind = store_kind::memory;
  else if (kind != "sqlite")
    die("--store must be sqlite or memory");
  auto n = std::stoll(option(argc, argv, "tasks", "1000000"));
  auto per_group = std::stoul(option(argc, argv, "chunks-per-group", "1"));
  if (n < 1 || per_group < 1)
    die("--tasks and --chunks-per-group must be at least 1");
  opts.sync = option(argc, argv, "durability", "full") == "normal" ? durability::normal
                                                                    : durability::full;
  opts.location = option(argc, argv, "db", "store_bound.db");
  if (opts.kind == store_kind::sqlite)
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(opts.location + suffix);
  auto opened = open_store(opts);
  if (!opened)
    die("cannot open the store");
  auto& store = **opened;
  if (auto err = store.seed(n))
    die("seeding failed");

  // Admission: the batch cut into chunks as the coordinator cuts it (untimed), and journaled
  // (one blob; timed, as in run's elapsed_ms).
  constexpr std::uint64_t batch = 1;
  std::vector<journaled_batch> admitted(1);
  admitted[0].batch = batch;
  admitted[0].admitted_ms = unix_now_ms();
  admitted[0].deadline_ms = admitted[0].admitted_ms + 3'600'000;
  admitted[0].tasks = generate_batch(n).tasks; // run's batch
  std::vector<std::vector<task_envelope>> chunks;
  for (std::size_t i = 0; i < admitted[0].tasks.size(); ++i) {
    if (i % chunk_size == 0)
      chunks.emplace_back().reserve(chunk_size);
    chunks.back().push_back(
      task_envelope{batch, static_cast<std::uint32_t>(i), false, admitted[0].tasks[i]});
  }

  auto started = std::chrono::steady_clock::now();
  if (auto err = store.journal(admitted))
    die("journaling the batch failed");
  admitted.clear();
  std::uint64_t failed = 0;
  std::vector<chunk_work> group;
  std::vector<std::size_t> group_chunks; // which chunk each entry of the group holds
  constexpr stage stages[] = {stage::validate, stage::audit, stage::update, stage::notify};
  // Step s runs Validate of chunks [s*K, s*K+K), Audit of the K before them, and so on.
  auto steps = (chunks.size() + per_group - 1) / per_group;
  for (std::size_t s = 0; s < steps + 3; ++s) {
    group.clear();
    group_chunks.clear();
    for (std::size_t k = 0; k < 4; ++k) {
      if (s < k || s - k >= steps)
        continue;
      auto last = std::min(chunks.size(), (s - k + 1) * per_group);
      for (std::size_t c = (s - k) * per_group; c < last; ++c) {
        if (stages[k] == stage::validate)
          for (const auto& t : chunks[c])
            if (check_request(t))
              die("a generated task failed validation");
        group.push_back(chunk_work{stages[k], std::move(chunks[c]), {}});
        group_chunks.push_back(c);
      }
    }
    store.run_group(group);
    for (std::size_t i = 0; i < group.size(); ++i) {
      for (const auto& r : group[i].results)
        failed += r ? 1 : 0;
      chunks[group_chunks[i]] = std::move(group[i].tasks);
    }
  }
  batch_outcome outcome;
  outcome.batch = batch;
  outcome.state = batch_state::done;
  outcome.finished_ms = unix_now_ms();
  outcome.succeeded = static_cast<std::uint64_t>(n) - failed;
  if (auto err = store.record_outcomes({outcome}))
    die("recording the outcome failed");
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  auto counts = store.counts();
  if (!counts)
    die("counting rows failed");
  if (failed != 0 || counts->outbox_rows != static_cast<std::uint64_t>(n))
    die(fmt::format("{} task stages failed; {} outbox rows for {} tasks", failed,
                    counts->outbox_rows, n));
  auto rows = counts->audit_rows + counts->applied_updates + counts->outbox_rows
              + static_cast<std::uint64_t>(n);
  fmt::print("{{\"store\":\"{}\",\"tasks\":{},\"chunks_per_group\":{},\"elapsed_ms\":{:.1f},"
             "\"tasks_per_s\":{:.1f},\"rows_per_s\":{:.1f}}}\n",
             kind, n, per_group, elapsed * 1000, static_cast<double>(n) / elapsed,
             static_cast<double>(rows) / elapsed);
  return 0;
}
