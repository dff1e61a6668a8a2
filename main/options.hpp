// Command-line options: `--name=value` for taskpipe's own options; CAF's options (those with a
// dot, such as --middleman.heartbeat-interval=200ms) are passed through to the actor system.
#pragma once

#include "actors/pipeline.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace taskpipe {

/// A bad command line; what() names the option and what is wrong with it.
struct option_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class option_set {
public:
  option_set(std::string command, std::string summary);

  /// Declares `--name=VALUE` with a default ("" means unset) and a one-line description.
  /// `value_hint` names the value in --help (e.g. "N", "MS", "PATH"); empty: a flag (`--json`).
  /// A repeatable option may be given several times (see get_all); others only once.
  void add(std::string name, std::string value_hint, std::string default_value, std::string help,
           bool repeatable = false);

  /// Parses arguments after the command word. Sets help_requested() on --help. Options with a
  /// dot in their name are collected into caf_args(). Then, with --config-file=PATH (see
  /// main/config_file.hpp), the file sets every option the command line did not give. Throws
  /// option_error.
  void parse(const std::vector<std::string>& args);

  bool help_requested() const {
    return help_requested_;
  }

  const std::vector<std::string>& caf_args() const {
    return caf_args_;
  }

  const std::string& command() const {
    return command_;
  }

  /// Usage text listing every option with its default.
  std::string help() const;

  /// The value given, or the default.
  const std::string& get(const std::string& name) const;

  /// Every value of a repeatable option, in command-line order.
  const std::vector<std::string>& get_all(const std::string& name) const;

  /// True when `name` was declared with add().
  bool declares(const std::string& name) const;

  /// True when given on the command line.
  bool given(const std::string& name) const;

  bool flag(const std::string& name) const;

  /// An integer in [min, max]; throws option_error naming the option otherwise.
  std::int64_t get_int(const std::string& name, std::int64_t min, std::int64_t max) const;

  struct option {
    std::string name;
    std::string value_hint;  ///< empty: a flag
    std::string default_value;
    std::string help;
    bool repeatable = false;
    std::vector<std::string> values;
    bool given = false;      ///< on the command line or in the config file
    bool from_file = false;  ///< given by the config file
  };

  /// Every declared option, in declaration order.
  const std::vector<option>& options() const {
    return options_;
  }

  /// Used by the config file: sets an option the command line did not give (a flag takes
  /// "true"; false leaves it unset). Throws option_error when `name` is not declared.
  void set_from_file(const std::string& name, std::vector<std::string> values);

private:
  const option& find(const std::string& name) const;

  std::string command_;
  std::string summary_;
  std::vector<option> options_;
  std::vector<std::string> caf_args_;
  bool help_requested_ = false;
};

/// Declares --latency, --workers, --store, --db, --durability and --seed-tasks with the command's
/// defaults, and the operator options (--config-file, --dump-config, --check-config, --log-level,
/// --log-format; see main/config_file.hpp).
void add_common_options(option_set& opts, const std::string& default_latency,
                        const std::string& default_db);

/// Declares --journal=on|off and --retention=DURATION (run, serve: the commands whose node owns
/// batches).
void add_journal_option(option_set& opts);

/// Sets cfg.journal, cfg.retention and cfg.purge_interval from --journal and --retention
/// (throws option_error).
void apply_journal_option(const option_set& opts, pipeline_config& cfg);

/// The longest --retention.
inline constexpr std::int64_t max_retention_days = 3650;

/// Parses a --retention: a whole number from 1 with the unit s, m, h or d ("24h", "30m", "90s",
/// "7d"), at most max_retention_days; false for anything else.
bool parse_retention(const std::string& text, std::chrono::milliseconds& out);

/// A pipeline_config from the common options (throws option_error).
pipeline_config common_pipeline_config(const option_set& opts);

/// Splits "HOST:PORT" (IPv4, name, or [IPv6]); throws option_error naming `option`.
void parse_host_port(const std::string& option, const std::string& text, std::string& host,
                     std::uint16_t& port);

/// Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);

/// Declares --remote (repeatable) and the TLS options for links between nodes.
void add_network_options(option_set& opts, bool with_remote);

/// Fills cfg.remote and cfg.tls from --remote and the TLS options (throws option_error).
void apply_network_options(const option_set& opts, pipeline_config& cfg);

} // namespace taskpipe
