#include "main/options.hpp"

#include "actors/store_actor.hpp"
#include "main/config_file.hpp"
#include "main/tls_peer_names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

namespace taskpipe {

option_set::option_set(std::string command, std::string summary)
  : command_(std::move(command)), summary_(std::move(summary)) {
}

void option_set::add(std::string name, std::string value_hint, std::string default_value,
                     std::string help, bool repeatable) {
  options_.push_back({std::move(name), std::move(value_hint), std::move(default_value),
                      std::move(help), repeatable, {}, false});
}

void option_set::parse(const std::vector<std::string>& args) {
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0)
      throw option_error{fmt::format("unexpected argument '{}' (options look like --name=value; "
                                     "see taskpipe {} --help)",
                                     arg, command_)};
    auto eq = arg.find('=');
    auto name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (name.find('.') != std::string::npos) {
      caf_args_.push_back(arg);  // CAF's own options, e.g. --middleman.heartbeat-interval=200ms
      continue;
    }
    auto i = std::find_if(options_.begin(), options_.end(),
                          [&](const option& o) { return o.name == name; });
    if (i == options_.end())
      throw option_error{
        fmt::format("unknown option --{} (see taskpipe {} --help)", name, command_)};
    if (i->given && !i->repeatable)
      throw option_error{fmt::format("--{} is given twice", name)};
    if (i->value_hint.empty()) {
      if (eq != std::string::npos)
        throw option_error{fmt::format("--{} is a flag and takes no value", name)};
      i->values.push_back("true");
    } else {
      if (eq == std::string::npos)
        throw option_error{fmt::format("--{} needs a value: --{}={}", name, name, i->value_hint)};
      i->values.push_back(arg.substr(eq + 1));
    }
    i->given = true;
  }
  // After the command line, so that its values win and --check-config is known before the file
  // can fail.
  if (declares("config-file") && given("config-file"))
    load_config_file(get("config-file"), *this);
}

void option_set::set_from_file(const std::string& name, std::vector<std::string> values) {
  auto i = std::find_if(options_.begin(), options_.end(),
                        [&](const option& o) { return o.name == name; });
  if (i == options_.end())
    throw option_error{fmt::format("unknown key '{}' (see taskpipe {} --help)", name, command_)};
  if (i->given)
    return;  // the command line wins
  if (i->value_hint.empty()) {
    if (values.size() != 1 || (values.front() != "true" && values.front() != "false"))
      throw option_error{fmt::format("'{}' is a flag: expected true or false", name)};
    if (values.front() == "false")
      return;
  } else if (!i->repeatable && values.size() != 1) {
    throw option_error{fmt::format("'{}' takes one value, not a list", name)};
  }
  i->values = std::move(values);
  i->given = true;
  i->from_file = true;
}

std::string option_set::help() const {
  std::string text = fmt::format("usage: taskpipe {} [OPTIONS]\n\n{}\n\noptions:\n", command_,
                                 summary_);
  for (const auto& o : options_) {
    auto left = o.value_hint.empty() ? fmt::format("--{}", o.name)
                                     : fmt::format("--{}={}", o.name, o.value_hint);
    if (o.repeatable)
      left += " ...";
    auto dflt = o.value_hint.empty()     ? std::string{}
                : o.default_value.empty() ? std::string{" (default: none)"}
                                          : fmt::format(" (default: {})", o.default_value);
    text += fmt::format("  {:<28} {}{}\n", left, o.help, dflt);
  }
  text += "  --help                       this text\n\n"
          "Options with a dot in their name go to CAF, e.g. --middleman.heartbeat-interval=200ms "
          "or --scheduler.max-threads=2.\n";
  return text;
}

const option_set::option& option_set::find(const std::string& name) const {
  auto i = std::find_if(options_.begin(), options_.end(),
                        [&](const option& o) { return o.name == name; });
  if (i == options_.end())
    throw std::logic_error{"undeclared option --" + name};
  return *i;
}

const std::string& option_set::get(const std::string& name) const {
  const auto& o = find(name);
  return o.given ? o.values.back() : o.default_value;
}

const std::vector<std::string>& option_set::get_all(const std::string& name) const {
  return find(name).values;
}

bool option_set::declares(const std::string& name) const {
  return std::any_of(options_.begin(), options_.end(),
                     [&](const option& o) { return o.name == name; });
}

bool option_set::given(const std::string& name) const {
  return find(name).given;
}

bool option_set::flag(const std::string& name) const {
  return find(name).given;
}

std::int64_t option_set::get_int(const std::string& name, std::int64_t min,
                                 std::int64_t max) const {
  const auto& text = get(name);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
    throw option_error{fmt::format("--{}={}: expected a whole number from {} to {}", name, text,
                                   min, max)};
  return value;
}

void add_common_options(option_set& opts, const std::string& default_latency,
                        const std::string& default_db) {
  auto cores = std::max(2u, std::thread::hardware_concurrency());
  opts.add("latency", "seed|zero|MS", default_latency,
           "simulated extra latency per stage: seed = 100 ms (500 ms when id % 5 == 0)");
  opts.add("workers", "K", std::to_string(cores), "actors per stage pool");
  opts.add("store", "sqlite|memory|postgres", "sqlite", "the task store");
  opts.add("db", "PATH|URI", default_db,
           "SQLite file of the task store; for postgres a libpq URI or conninfo "
           "(postgresql://USER@HOST:PORT/DBNAME; not given: the PG* environment variables)");
  opts.add("durability", "full|normal", "full",
           "SQLite: full = nothing is answered before its writes are fsynced; normal = faster, "
           "a power loss or OS crash may lose the last answered writes");
  opts.add("seed-tasks", "N", "0", "create tasks 1..N (Story, \"Task <id>\", version 1) where missing");
  add_operator_options(opts);
}

void add_journal_option(option_set& opts) {
  opts.add("journal", "on|off", "on",
           "journal each batch in the store before it starts and resume unfinished ones at "
           "start-up (off: batches live in memory only, for comparison)");
  opts.add("retention", "DURATION", "24h",
           "how long finished batches answer (then 404) and are kept in the store: a whole "
           "number with s, m, h or d, e.g. 30m");
}

bool parse_retention(const std::string& text, std::chrono::milliseconds& out) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || n < 1 || text.size() < 2 || end != text.data() + text.size() - 1)
    return false;
  std::int64_t unit_s = 0;
  switch (*end) {
    case 's':
      unit_s = 1;
      break;
    case 'm':
      unit_s = 60;
      break;
    case 'h':
      unit_s = 3600;
      break;
    case 'd':
      unit_s = 86400;
      break;
    default:
      return false;
  }
  if (n > max_retention_days * 86400 / unit_s)
    return false;
  out = std::chrono::seconds{n * unit_s};
  return true;
}

void apply_journal_option(const option_set& opts, pipeline_config& cfg) {
  const auto& value = opts.get("journal");
  if (value != "on" && value != "off")
    throw option_error{fmt::format("--journal={}: expected on or off", value)};
  cfg.journal = value == "on";
  if (!parse_retention(opts.get("retention"), cfg.retention))
    throw option_error{fmt::format("--retention={}: expected a duration from 1s to {}d: a whole "
                                   "number with s, m, h or d, e.g. 24h, 30m or 90s",
                                   opts.get("retention"), max_retention_days)};
  cfg.purge_interval = purge_interval_for(cfg.retention);
}

pipeline_config common_pipeline_config(const option_set& opts) {
  pipeline_config cfg;
  if (!parse_latency(opts.get("latency"), cfg.latency))
    throw option_error{fmt::format(
      "--latency={}: expected seed, zero or a whole number of milliseconds from 0 to 3600000",
      opts.get("latency"))};
  cfg.workers = static_cast<std::size_t>(opts.get_int("workers", 1, 1024));
  const auto& store = opts.get("store");
  if (store == "sqlite")
    cfg.store = store_kind::sqlite;
  else if (store == "memory")
    cfg.store = store_kind::memory;
  else if (store == "postgres")
    cfg.store = store_kind::postgres;
  else
    throw option_error{fmt::format("--store={}: expected sqlite, memory or postgres", store)};
  cfg.db_path = opts.get("db");
  if (cfg.store == store_kind::postgres && !opts.given("db"))
    cfg.db_path.clear(); // libpq takes everything from the PG* environment variables
  else if (opts.given("db") && cfg.db_path.empty())
    throw option_error{"--db=: expected a file path"};
  const auto& sync = opts.get("durability");
  if (sync == "full")
    cfg.sync = durability::full;
  else if (sync == "normal")
    cfg.sync = durability::normal;
  else
    throw option_error{fmt::format("--durability={}: expected full or normal", sync)};
  cfg.seed_tasks = opts.get_int("seed-tasks", 0, 100'000'000);
  return cfg;
}

void parse_host_port(const std::string& option, const std::string& text, std::string& host,
                     std::uint16_t& port) {
  auto fail = [&] {
    throw option_error{
      fmt::format("--{}={}: expected HOST:PORT with a port from 0 to 65535", option, text)};
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    fail();
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto digits = std::string_view{text}.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value > 65535)
    fail();
  port = static_cast<std::uint16_t>(value);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void add_network_options(option_set& opts, bool with_remote) {
  if (with_remote)
    opts.add("remote", "STAGE@HOST:PORT[,HOST:PORT...]", "",
             "run STAGE on these stage hosts (replicas) instead of locally; repeat per stage",
             true);
  opts.add("tls-cert", "PATH", "", "this node's certificate (PEM) for TLS links between nodes");
  opts.add("tls-key", "PATH", "", "the certificate's private key (PEM)");
  opts.add("tls-ca", "PATH", "", "CA certificate (PEM) a peer's certificate must be signed by");
  opts.add("tls-peer-names", "NAME[,NAME...]", "",
           "accept only peers whose certificate names one of these (DNS SAN, or CN without one)");
}

void apply_network_options(const option_set& opts, pipeline_config& cfg) {
  auto tls_given = opts.given("tls-cert") + opts.given("tls-key") + opts.given("tls-ca");
  if (tls_given != 0 && tls_given != 3)
    throw option_error{"TLS needs all three of --tls-cert, --tls-key and --tls-ca"};
  for (auto name : {"tls-cert", "tls-key", "tls-ca"})
    if (opts.given(name) && !std::filesystem::is_regular_file(opts.get(name)))
      throw option_error{fmt::format("--{}={}: no such file", name, opts.get(name))};
  cfg.tls = tls_given == 3;
  if (opts.given("tls-peer-names")) {
    if (!cfg.tls)
      throw option_error{"--tls-peer-names needs TLS: --tls-cert, --tls-key and --tls-ca"};
    parse_tls_peer_names(opts.get("tls-peer-names"));
  }
  if (!opts.declares("remote"))
    return;
  for (const auto& spec : opts.get_all("remote")) {
    auto at = spec.find('@');
    stage which;
    if (at == std::string::npos || !from_string(spec.substr(0, at), which)
        || which == stage::pipeline)
      throw option_error{fmt::format(
        "--remote={}: expected STAGE@HOST:PORT[,HOST:PORT...] with STAGE one of validate, audit, "
        "update, notify",
        spec)};
    for (const auto& [seen, hosts] : cfg.remote)
      if (seen == which)
        throw option_error{fmt::format("--remote: stage {} is given twice; list all its hosts "
                                       "in one --remote, separated by commas",
                                       to_string(which))};
    std::vector<endpoint> hosts;
    std::size_t pos = at + 1;
    for (;;) {
      auto comma = spec.find(',', pos);
      endpoint e;
      parse_host_port("remote", spec.substr(pos, comma - pos), e.host, e.port);
      if (e.port == 0)
        throw option_error{fmt::format("--remote={}: port 0 cannot be dialled", spec)};
      hosts.push_back(std::move(e));
      if (comma == std::string::npos)
        break;
      pos = comma + 1;
    }
    cfg.remote.emplace_back(which, std::move(hosts));
  }
}

} // namespace taskpipe
