// The config file: CAF's INI format, a section per command plus CAF's sections; the command line
// wins over the file; --dump-config prints what is in effect (and reads back the same);
// --check-config exits 0, or 1 naming the bad key; CAF's implicit caf-application.ini is ignored;
// packaging/taskpipe.conf lists every option with its default.
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/serve_process.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <regex>

using namespace taskpipe::test;
using namespace std::chrono_literals;

namespace {

/// `key=value` lines of one [section] of an INI text (comments and other sections skipped).
std::map<std::string, std::string> section(const std::string& text, const std::string& name) {
  std::map<std::string, std::string> out;
  bool inside = false;
  for (const auto& line : lines(text)) {
    if (line.front() == '[') {
      inside = line == "[" + name + "]";
      continue;
    }
    if (!inside || line.front() == ';')
      continue;
    auto eq = line.find('=');
    REQUIRE(eq != std::string::npos);
    out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

struct config_case {
  temp_dir dir;
  std::string path = dir.path() + "/taskpipe.conf";
  explicit config_case(const std::string& text) {
    write_file(path, text);
  }
  exec_result serve(std::vector<std::string> extra) const {
    std::vector<std::string> args{"serve", "--config-file=" + path};
    args.insert(args.end(), extra.begin(), extra.end());
    return taskpipe_exec(args);
  }
};

void check_rejected(const std::string& text, const std::vector<std::string>& needles) {
  config_case c{text};
  auto checked = c.serve({"--check-config"});
  INFO(text << "\n---\n" << checked.out << checked.err);
  CHECK(checked.status == 1);
  CHECK(checked.out.empty());
  for (const auto& n : needles)
    CHECK(checked.err.find(n) != std::string::npos);
  // Without --check-config the same file is a bad command line: status 2.
  auto dumped = c.serve({"--dump-config"});
  CHECK(dumped.status == 2);
  CHECK(dumped.out.empty());
}

} // namespace

TEST_CASE("config: the file sets options and the command line wins", "[operator][config]") {
  config_case c{R"(; a comment
[serve]
listen="127.0.0.1:0"
store="memory"
seed-tasks=5
max-batch-tasks=3
batch-timeout=9000
[middleman]
heartbeat-interval=300ms
[node]
stages="validate"
)"};
  auto dump = c.serve({"--dump-config"});
  INFO(dump.err);
  REQUIRE(dump.status == 0);
  auto serve = section(dump.out, "serve");
  CHECK(serve["listen"] == "\"127.0.0.1:0\"");
  CHECK(serve["seed-tasks"] == "5");
  CHECK(serve["max-batch-tasks"] == "3");
  CHECK(serve["batch-timeout"] == "9000");
  CHECK(serve["log-level"] == "\"info\"");
  CHECK(section(dump.out, "middleman")["heartbeat-interval"] == "300ms");
  // The command line wins, the other sections' keys are not ours.
  auto over = c.serve({"--dump-config", "--max-batch-tasks=7", "--middleman.heartbeat-interval=1s"});
  REQUIRE(over.status == 0);
  CHECK(section(over.out, "serve")["max-batch-tasks"] == "7");
  CHECK(section(over.out, "serve").count("stages") == 0);
  CHECK(section(over.out, "middleman")["heartbeat-interval"] == "1s");

  // A real serve runs with it: 5 seeded tasks, batches of at most 3.
  serve_process proc{{"--config-file=" + c.path}};
  auto four = http_call(proc.port(), http_request::post_json(
                                       "/v1/batches", R"({"tasks":[{"id":1,"type":"Epic"},{"id":2,"type":"Epic"},{"id":3,"type":"Epic"},{"id":4,"type":"Epic"}]})"));
  CHECK(four.status == 413);
  CHECK(four.body.find("--max-batch-tasks=3") != std::string::npos);
  CHECK(http_call(proc.port(), http_request{"GET", "/v1/tasks/5", {}, {}}).status == 200);
  CHECK(http_call(proc.port(), http_request{"GET", "/v1/tasks/6", {}, {}}).status == 404);
}

TEST_CASE("config: --dump-config reads back as the same configuration", "[operator][config]") {
  config_case c{"[serve]\nlisten=\"127.0.0.1:0\"\nremote=[\"validate@127.0.0.1:1\"]\n"
                "[scheduler]\nmax-threads=3\n"};
  auto first = c.serve({"--dump-config", "--max-in-flight=77"});
  REQUIRE(first.status == 0);
  config_case again{first.out};
  auto second = again.serve({"--dump-config"});
  INFO(first.out << "\n---\n" << second.out << second.err);
  REQUIRE(second.status == 0);
  auto body = [](const std::string& text) { return text.substr(text.find('\n')); };
  CHECK(body(second.out) == body(first.out));
  CHECK(section(second.out, "serve")["remote"] == R"(["validate@127.0.0.1:1"])");
  CHECK(section(second.out, "scheduler")["max-threads"] == "3");
  CHECK(again.serve({"--check-config"}).status == 0);
}

TEST_CASE("config: --check-config says OK and exits 0", "[operator][config]") {
  config_case c{"[serve]\nlisten=\"127.0.0.1:8080\"\njson=false\n[middleman]\nworkers=2\n"};
  // `json` is not a serve option: this file is wrong, the next one is right.
  auto bad = c.serve({"--check-config"});
  CHECK(bad.status == 1);
  config_case good{"[serve]\nlisten=\"127.0.0.1:8080\"\n[middleman]\nworkers=2\n"};
  auto r = good.serve({"--check-config"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "taskpipe serve: configuration OK (" + good.path + ")\n");
  // Without a file it checks the command line alone.
  auto cli = taskpipe_exec({"serve", "--check-config", "--max-batch-tasks=0"});
  CHECK(cli.status == 1);
  CHECK(cli.err.find("--max-batch-tasks=0") != std::string::npos);
  CHECK(taskpipe_exec({"node", "--check-config", "--stages=audit"}).status == 0);
  CHECK(taskpipe_exec({"run", "--check-config"}).status == 0);
}

TEST_CASE("config: --check-config names the bad key and exits 1", "[operator][config]") {
  check_rejected("[serve]\nlisten=\"127.0.0.1:0\"\nlistn=\"x\"\n",
                 {"[serve] listn", "unknown key 'listn'"});
  check_rejected("[serve]\nmax-batch-tasks=0\n",
                 {"--max-batch-tasks=0: expected a whole number", "[serve] max-batch-tasks"});
  check_rejected("[serve]\nstore=\"mysql\"\n", {"--store=mysql", "[serve] store"});
  check_rejected("[srve]\nlisten=\"x\"\n", {"unknown section [srve]"});
  check_rejected("[serve]\nlisten=127.0.0.1:80\n", {"line 2", "double quotes"});
  check_rejected("listen=\"x\"\n", {"key 'listen' is outside any section"});
  check_rejected("[serve]\nlisten=[\"a:1\", \"b:2\"]\n", {"[serve] listen", "one value"});
  check_rejected("[serve]\nconfig-file=\"other.conf\"\n",
                 {"[serve] config-file", "only on the command line"});
  check_rejected("[middleman]\nheartbeat-intervall=1s\n", {"[middleman] heartbeat-intervall"});
  check_rejected("[middleman]\nheartbeat-interval=\"often\"\n", {"[middleman] heartbeat-interval"});
  check_rejected("[serve]\napi-token-file=\"/nonexistent/token\"\n",
                 {"--api-token-file=/nonexistent/token", "[serve] api-token-file"});
  auto missing = taskpipe_exec({"serve", "--config-file=/nonexistent.conf", "--check-config"});
  CHECK(missing.status == 1);
  CHECK(missing.err.find("--config-file=/nonexistent.conf: cannot read the file") != std::string::npos);
}

TEST_CASE("config: caf-application.ini in the working directory is not read", "[operator][config]") {
  temp_dir dir;
  write_file(dir.path() + "/caf-application.ini", "[scheduler]\nmax-threads=77\n");
  exec_options in_dir;
  in_dir.cwd = dir.path();
  auto r = taskpipe_exec({"serve", "--dump-config"}, in_dir);
  REQUIRE(r.status == 0);
  CHECK(section(r.out, "scheduler")["max-threads"] != "77");
  config_case c{"[scheduler]\nmax-threads=77\n"};  // the same key through --config-file works
  CHECK(section(c.serve({"--dump-config"}).out, "scheduler")["max-threads"] == "77");
}

TEST_CASE("config: packaging/taskpipe.conf lists every option with its default", "[operator][config]") {
  auto example = read_file(std::string{TASKPIPE_SOURCE_DIR} + "/packaging/taskpipe.conf");
  REQUIRE(!example.empty());
  for (std::string command : {"serve", "node", "run"}) {
    // Every `--name=HINT ... (default: X)` of the command's --help, against its section.
    auto help = taskpipe_exec({command, "--help"});
    REQUIRE(help.status == 0);
    std::string section_text;
    auto start = example.find("\n[" + command + "]\n");
    INFO(command);
    REQUIRE(start != std::string::npos);
    auto end = example.find("\n[", start + 1);
    section_text = example.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::regex option{R"(^  --([a-z-]+)(=\S+)?(?: \.\.\.)? .*?(?:\(default: (.*)\))?$)"};
    for (const auto& line : lines(help.out)) {
      std::smatch m;
      if (!std::regex_match(line, m, option) || m[1] == "help")
        continue;
      std::string name = m[1];
      if (name == "config-file" || name == "dump-config" || name == "check-config")
        continue;
      INFO(name);
      std::smatch found;
      std::regex entry{"(^|\\n)(; )?" + name + "=([^\\n]*)"};
      REQUIRE(std::regex_search(section_text, found, entry));
      bool commented = found[2].matched;
      std::string value = found[3];
      // A commented entry shows the default; the machine-dependent worker count is described.
      if (commented && m[3].matched && name != "workers" && m[3] != "none") {
        auto plain = value.size() >= 2 && value.front() == '"' ? value.substr(1, value.find('"', 1) - 1)
                                                                : value.substr(0, value.find(' '));
        CHECK(plain == std::string{m[3]});
      }
    }
  }
  // It is a valid file for serve as shipped.
  auto r = taskpipe_exec({"serve", "--config-file=" + std::string{TASKPIPE_SOURCE_DIR}
                                + "/packaging/taskpipe.conf", "--check-config"});
  INFO(r.err);
  CHECK(r.status == 0);
}
