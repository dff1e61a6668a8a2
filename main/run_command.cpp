#include "main/run_command.hpp"

#include "main/actor_system_setup.hpp"
#include "main/config_file.hpp"
#include "main/generated_batch.hpp"
#include "main/http/json_writer.hpp"
#include "main/log.hpp"
#include "main/options.hpp"
#include "messages/outcome.hpp"
#include "messages/report.hpp"
#include "store/postgres/postgres_store.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <unistd.h>

namespace taskpipe {

namespace {

/// A fresh SQLite path in the temp directory; the files are removed when this goes away.
struct temporary_db {
  std::filesystem::path path;
  temporary_db() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path()
           / fmt::format("taskpipe-run-{}-{:08x}.db", ::getpid(), rd());
  }
  ~temporary_db() {
    std::error_code ec;
    for (auto suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path.string() + suffix, ec);
  }
};

std::string human_duration(double ms) {
  if (ms < 10'000)
    return fmt::format("{:.1f} ms", ms);
  auto total_s = ms / 1000;
  if (total_s < 120)
    return fmt::format("{:.1f} s", total_s);
  auto minutes = static_cast<long long>(total_s / 60);
  return fmt::format("{} min {:.1f} s", minutes, total_s - 60.0 * static_cast<double>(minutes));
}

struct run_figures {
  batch_report report;
  double critical_path_ms = 0;
  double sequential_ms = 0;
  store_counts rows;
  std::map<std::string, std::uint64_t> by_code;
  std::map<std::string, std::uint64_t> by_stage_and_code;
};

double tasks_per_second(const batch_report& r) {
  return r.elapsed_ms > 0 ? static_cast<double>(r.total) / (r.elapsed_ms / 1000) : 0.0;
}

void print_json(const run_figures& f) {
  const auto& r = f.report;
  std::string codes;
  for (const auto& [code, n] : f.by_code)
    codes += fmt::format("{}\"{}\":{}", codes.empty() ? "" : ",", code, n);
  auto tasks_per_s = tasks_per_second(r);
  fmt::print("{{\"tasks\":{},\"succeeded\":{},\"failed\":{},\"elapsed_ms\":{:.1f},"
             "\"tasks_per_s\":{:.1f},\"critical_path_ms\":{:.1f},\"failures_by_code\":{{{}}}}}\n",
             r.total, r.succeeded, r.failed, r.elapsed_ms, tasks_per_s, f.critical_path_ms,
             codes);
}

void print_human(const run_figures& f, const pipeline_config& cfg, const std::string& store_text) {
  const auto& r = f.report;
  auto tasks_per_s = tasks_per_second(r);
  fmt::print("taskpipe run: {} tasks, latency {}, {} workers per stage, store {}\n", r.total,
             to_string(cfg.latency), cfg.workers, store_text);
  fmt::print("  succeeded      {}\n", r.succeeded);
  fmt::print("  failed         {}\n", r.failed);
  for (const auto& [key, n] : f.by_stage_and_code)
    fmt::print("    {:<28} {}\n", key, n);
  if (r.pending > 0)
    fmt::print("  WITHOUT OUTCOME {}\n", r.pending);
  fmt::print("  elapsed        {}", human_duration(r.elapsed_ms));
  if (f.critical_path_ms > 0)
    fmt::print(" ({:.3f} x the critical-path bound of {})", r.elapsed_ms / f.critical_path_ms,
               human_duration(f.critical_path_ms));
  fmt::print("\n  throughput     {:.1f} tasks/s\n", tasks_per_s);
  if (f.sequential_ms > 0)
    fmt::print("  one at a time  {} (this run was {:.0f} x faster)\n",
               human_duration(f.sequential_ms),
               r.elapsed_ms > 0 ? f.sequential_ms / r.elapsed_ms : 0.0);
  fmt::print("  store rows     {} audit, {} updates applied, {} outbox\n", f.rows.audit_rows,
             f.rows.applied_updates, f.rows.outbox_rows);
}

/// --report-file: the report with every failure, for scripts and the invariant checker.
bool write_report(const std::string& path, const batch_report& r) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  auto json = http::status_json(r);
  out << json.head << json.shared << json.tail << '\n';
  out.close();
  if (!out) {
    log::error("run", fmt::format("cannot write the report to {}", path));
    return false;
  }
  return true;
}

} // namespace

int run_command(const std::vector<std::string>& args) {
  option_set opts{"run", "Runs one generated batch through the pipeline in-process and prints a "
                         "summary."};
  add_common_options(opts, "seed", "");
  opts.add("tasks", "N", "1000", "generate updates for ids 1..N");
  opts.add("invalid-every", "K", "0", "make every K-th task invalid (empty summary); 0 = none");
  opts.add("json", "", "", "print exactly one JSON object instead of the summary");
  opts.add("report-file", "PATH", "",
           "also write the whole batch report (as GET /v1/batches/{id} answers it) to PATH");
  add_journal_option(opts);
  add_network_options(opts, true);
  pipeline_config cfg;
  std::int64_t n = 0;
  std::int64_t invalid_every = 0;
  caf::actor_system_config sys_cfg;
  try {
    opts.parse(args);
    if (opts.help_requested()) {
      fmt::print("{}", opts.help());
      std::fputs("  (--db defaults to a fresh temporary file, removed afterwards)\n", stdout);
      return 0;
    }
    cfg = common_pipeline_config(opts);
    apply_journal_option(opts, cfg);
    apply_network_options(opts, cfg);
    n = opts.get_int("tasks", 0, 100'000'000);
    invalid_every = opts.get_int("invalid-every", 0, 100'000'000);
    configure_actor_system(sys_cfg, opts);
    if (auto done = finish_configuration(opts, sys_cfg))  // --dump-config, --check-config
      return *done;
  } catch (const option_error& e) {
    return report_option_error(opts, args, e);
  }
  std::optional<temporary_db> temp;
  if (cfg.store == store_kind::sqlite && !opts.given("db")) {
    temp.emplace();
    cfg.db_path = temp->path.string();
  }
  cfg.seed_tasks = std::max(cfg.seed_tasks, n);
  // Room for the whole generated batch whatever its size.
  cfg.max_in_flight = std::max<std::uint64_t>(cfg.max_in_flight, static_cast<std::uint64_t>(n));
  auto store_text = cfg.store == store_kind::memory ? std::string{"memory"}
                    : cfg.store == store_kind::postgres
                      ? fmt::format("postgres ({})", describe_postgres_target(cfg.db_path))
                      : fmt::format("sqlite ({}{})", cfg.db_path, temp ? ", temporary" : "");

  auto request = generate_batch(n, invalid_every);
  run_figures figures;
  figures.critical_path_ms = static_cast<double>(cfg.latency.critical_path(request.tasks).count());
  for (const auto& t : request.tasks)
    figures.sequential_ms += 4.0 * static_cast<double>(cfg.latency.delay(t.id).count());

  caf::actor_system sys{sys_cfg};
  pipeline node;
  try {
    node = spawn_pipeline(sys, cfg);
    // Unfinished batches of an earlier node on this --db finish too (before the run exits).
    if (auto resumed = cfg.journal ? resume_unfinished(sys, node) : 0)
      log::info("run", fmt::format("resumed {} unfinished batches of the journal", resumed));
  } catch (const std::exception& e) {
    log::error("run", std::string{"cannot open the store: "} + e.what());
    return 1;
  }
  bool ok = false;
  {
    caf::scoped_actor self{sys};
    self->send(node.coordinator, submit_atom_v, std::move(request));
    bool show_progress = !opts.flag("json") && ::isatty(STDERR_FILENO) != 0;
    auto started = std::chrono::steady_clock::now();
    bool progress_shown = false;
    for (bool waiting = true; waiting;) {
      self->receive(
        [&](batch_report& report) {
          figures.report = std::move(report);
          ok = figures.report.pending == 0
               && figures.report.succeeded + figures.report.failed == figures.report.total;
          waiting = false;
        },
        [&](caf::error& err) {
          log::error("run", "the batch was refused: " + sys.render(err));
          waiting = false;
        },
        caf::after(std::chrono::milliseconds{250}) >> [&] {
          auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
          if (!show_progress || secs.count() < 1.0)
            return;
          auto left = node.metrics->tasks_in_flight.load(std::memory_order_relaxed);
          auto done = static_cast<std::uint64_t>(n) - std::min<std::uint64_t>(left, n);
          fmt::print(stderr, "\r{} / {} tasks done, {:.0f} tasks/s   ", done, n,
                     static_cast<double>(done) / secs.count());
          progress_shown = true;
        });
    }
    if (progress_shown)
      fmt::print(stderr, "\r\033[K");
    self->request(node.store, caf::infinite, get_atom_v)
      .receive([&](store_counts& rows) { figures.rows = rows; }, [](caf::error&) {});
    self->request(node.coordinator, caf::infinite, drain_atom_v)
      .receive([](done_atom) {}, [](caf::error&) {});
  }
  if (figures.report.finished)
    for (const auto& f : figures.report.finished->marks) {
      figures.by_code[to_string(f.code)] += 1;
      figures.by_stage_and_code[to_string(f.where) + "/" + to_string(f.code)] += 1;
    }
  if (auto path = opts.get("report-file"); !path.empty() && !write_report(path, figures.report))
    ok = false;
  if (opts.flag("json"))
    print_json(figures);
  else
    print_human(figures, cfg, store_text);
  return ok ? 0 : 1;
}

} // namespace taskpipe
