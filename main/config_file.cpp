#include "main/config_file.hpp"

#include "main/log.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/config_value.hpp>
#include <caf/pec.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace taskpipe {

namespace {

/// Sections of the other commands: a shared file may hold them, this command skips them.
constexpr std::array<std::string_view, 3> command_sections{"run", "serve", "node"};

/// Options that only make sense on the command line.
constexpr std::array<std::string_view, 3> command_line_only{"config-file", "dump-config",
                                                            "check-config"};

bool contains(auto& list, std::string_view x) {
  return std::find(list.begin(), list.end(), x) != list.end();
}

/// CAF's own options, to check the file's CAF sections against (custom_options_ is protected).
struct caf_options : caf::actor_system_config {
  const caf::config_option_set& options() const {
    return custom_options_;
  }
  /// "middleman", "scheduler", ...
  std::vector<std::string> sections() const {
    std::vector<std::string> out;
    for (const auto& opt : custom_options_) {
      auto name = opt.category();
      std::string cat{name.data(), name.size()};
      if (cat != "global" && !contains(out, cat))
        out.push_back(cat);
    }
    return out;
  }
};

/// One value of our own options as text; a list only where the option repeats.
std::string scalar_text(const caf::config_value& v, const std::string& where) {
  if (auto s = caf::get_if<std::string>(&v))
    return *s;
  if (auto a = caf::get_if<caf::atom_value>(&v))
    return caf::to_string(*a);
  if (auto i = caf::get_if<caf::config_value::integer>(&v))
    return fmt::format("{}", *i);
  if (auto b = caf::get_if<bool>(&v))
    return *b ? "true" : "false";
  if (caf::holds_alternative<caf::config_value::list>(v)
      || caf::holds_alternative<caf::config_value::dictionary>(v))
    throw option_error{fmt::format("{}: expected a single value, got {}", where, caf::to_string(v))};
  return caf::to_string(v);  // a duration (250ms), a real number, a URI
}

std::vector<std::string> values_text(const caf::config_value& v, const std::string& where) {
  std::vector<std::string> out;
  if (auto list = caf::get_if<caf::config_value::list>(&v)) {
    for (const auto& x : *list)
      out.push_back(scalar_text(x, where));
    return out;
  }
  out.push_back(scalar_text(v, where));
  return out;
}

std::string parse_error_text(const caf::error& err) {
  // CAF's parser puts {"line": L, "column": C} into the error's context.
  auto ctx = err.context();
  auto code = caf::to_string(static_cast<caf::pec>(err.code()));
  std::replace(code.begin(), code.end(), '_', ' ');
  if (ctx.match_elements<caf::config_value::dictionary>()) {
    const auto& where = ctx.get_as<caf::config_value::dictionary>(0);
    auto line = where.find("line");
    auto column = where.find("column");
    if (line != where.end() && column != where.end())
      return fmt::format("line {}, column {}: {} (strings need double quotes: key=\"value\")",
                         caf::to_string(line->second), caf::to_string(column->second), code);
  }
  return caf::to_string(err);
}

/// Reads and parses the file with CAF's parser; throws option_error.
caf::settings read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw option_error{fmt::format("--config-file={}: cannot read the file", path)};
  auto parsed = caf::actor_system_config::parse_config(in);
  if (!parsed)
    throw option_error{fmt::format("{}: {}", path, parse_error_text(parsed.error()))};
  return std::move(*parsed);
}

/// `--name` appears in `text` as a whole option name.
bool mentions(std::string_view text, const std::string& option) {
  for (auto pos = text.find(option); pos != std::string_view::npos;
       pos = text.find(option, pos + 1)) {
    auto end = pos + option.size();
    if (end == text.size() || !(std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '-'))
      return true;
  }
  return false;
}

/// A value of ours written so that CAF's parser reads it back.
std::string ini_value(const std::string& text) {
  bool number = !text.empty() && text.size() < 19
                && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })
                && (text == "0" || text.front() != '0');
  if (number)
    return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + '"';
}

} // namespace

void add_operator_options(option_set& opts) {
  opts.add("config-file", "PATH", "",
           "read options from this file (CAF's INI format; the command line wins)");
  opts.add("dump-config", "", "", "print the effective configuration and exit");
  opts.add("check-config", "", "",
           "check the command line and config file, then exit 0, or 1 naming the bad key");
  opts.add("log-level", "error|warn|info|debug", "info", "least severe log events written");
  opts.add("log-format", "text|json", "text", "log lines on stderr as text or JSON (one per line)");
}

void load_config_file(const std::string& path, option_set& opts) {
  auto parsed = read_file(path);
  caf_options caf;
  auto caf_known = caf.sections();
  for (const auto& [section, content] : parsed) {
    auto keys = caf::get_if<caf::settings>(&content);
    if (keys == nullptr)
      throw option_error{fmt::format("{}: key '{}' is outside any section; put it under [{}]",
                                     path, section, opts.command())};
    if (section == opts.command()) {
      for (const auto& [key, value] : *keys) {
        auto where = fmt::format("{}: [{}] {}", path, section, key);
        if (contains(command_line_only, key))
          throw option_error{fmt::format("{}: only on the command line", where)};
        try {
          opts.set_from_file(key, values_text(value, where));
        } catch (const option_error& e) {
          std::string what = e.what();
          throw option_error{what.rfind(where, 0) == 0 ? what : where + ": " + what};
        }
      }
    } else if (contains(caf_known, section)) {
      // Checked now, applied by apply_caf_options: CAF's own parser would drop a bad value
      // silently.
      for (const auto& [key, value] : *keys) {
        auto where = fmt::format("{}: [{}] {}", path, section, key);
        auto opt = caf.options().qualified_name_lookup(section, key);
        if (opt == nullptr)
          throw option_error{fmt::format("{}: not an option of CAF's [{}] (see --dump-config)",
                                         where, section)};
        if (auto err = opt->check(value))
          throw option_error{fmt::format("{}={}: CAF expects a {}", where, caf::to_string(value),
                                         std::string{opt->type_name().data(), opt->type_name().size()})};
      }
    } else if (!contains(command_sections, section)) {
      throw option_error{fmt::format(
        "{}: unknown section [{}]; sections are run, serve, node and CAF's ({})", path, section,
        fmt::join(caf_known, ", "))};
    }
  }
}

void apply_caf_options(caf::actor_system_config& cfg, const option_set& opts) {
  // The file's CAF sections (checked by load_config_file), then the command line's CAF options.
  if (opts.declares("config-file") && opts.given("config-file")) {
    caf_options caf;
    auto sections = caf.sections();
    for (const auto& [section, content] : read_file(opts.get("config-file")))
      if (auto keys = caf::get_if<caf::settings>(&content); keys && contains(sections, section))
        for (const auto& [key, value] : *keys)
          cfg.set(section + "." + key, value);
  }
  // An empty INI stream: CAF would otherwise read caf-application.ini from the working directory
  // behind the operator's back.
  std::istringstream no_file;
  if (auto err = cfg.parse(opts.caf_args(), no_file))
    throw option_error{"bad CAF option: " + caf::to_string(err)};
}

std::string dump_config(const option_set& opts, const caf::actor_system_config& cfg) {
  std::string out = fmt::format(
    "; taskpipe {}: the effective configuration (defaults, then {}, then the command line)\n[{}]\n",
    opts.command(), opts.given("config-file") ? opts.get("config-file") : "no config file",
    opts.command());
  for (const auto& o : opts.options()) {
    if (contains(command_line_only, o.name))
      continue;
    if (o.value_hint.empty()) {
      out += fmt::format("{}={}\n", o.name, o.given ? "true" : "false");
    } else if (o.repeatable) {
      std::vector<std::string> items;
      for (const auto& v : o.values)
        items.push_back(ini_value(v));
      out += fmt::format("{}=[{}]\n", o.name, fmt::join(items, ", "));
    } else if (!o.given && o.default_value.empty()) {
      out += fmt::format("; {}= (not set)\n", o.name);
    } else {
      out += fmt::format("{}={}\n", o.name, ini_value(o.given ? o.values.back() : o.default_value));
    }
  }
  caf_options caf;
  for (const auto& [section, content] : cfg.dump_content()) {
    auto keys = caf::get_if<caf::settings>(&content);
    if (keys == nullptr)
      continue;
    out += fmt::format("[{}]\n", section);
    for (const auto& [key, value] : *keys) {
      // CAF reports some defaults in a form it does not read back (max-throughput=-1 for "no
      // limit"): those stay comments.
      auto opt = caf.options().qualified_name_lookup(section, key);
      bool readable = opt != nullptr && !opt->check(value);
      out += fmt::format("{}{}={}\n", readable ? "" : "; ", key, caf::to_string(value));
    }
  }
  return out;
}

std::optional<int> finish_configuration(const option_set& opts,
                                        const caf::actor_system_config& cfg) {
  log::level lvl;
  if (!log::parse_level(opts.get("log-level"), lvl))
    throw option_error{fmt::format("--log-level={}: expected error, warn, info or debug",
                                   opts.get("log-level"))};
  log::format format;
  if (!log::parse_format(opts.get("log-format"), format))
    throw option_error{
      fmt::format("--log-format={}: expected text or json", opts.get("log-format"))};
  log::configure(lvl, format);
  if (opts.flag("dump-config")) {
    std::fputs(dump_config(opts, cfg).c_str(), stdout);
    return 0;
  }
  if (opts.flag("check-config")) {
    if (opts.given("config-file"))
      std::printf("taskpipe %s: configuration OK (%s)\n", opts.command().c_str(),
                  opts.get("config-file").c_str());
    else
      std::printf("taskpipe %s: configuration OK (no config file)\n", opts.command().c_str());
    return 0;
  }
  return std::nullopt;
}

int report_option_error(const option_set& opts, const std::vector<std::string>& args,
                        const option_error& e) {
  std::string msg = e.what();
  if (opts.declares("config-file") && opts.given("config-file"))
    for (const auto& o : opts.options())
      if (o.from_file && mentions(msg, "--" + o.name))
        msg += fmt::format(" (set in {}: [{}] {})", opts.get("config-file"), opts.command(),
                           o.name);
  fmt::print(stderr, "taskpipe {}: {}\n", opts.command(), msg);
  bool checking = std::find(args.begin(), args.end(), "--check-config") != args.end();
  return checking ? 1 : 2;
}

} // namespace taskpipe
