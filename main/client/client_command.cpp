#include "main/client/client_command.hpp"

#include "main/client/batch_input.hpp"
#include "main/client/http_client.hpp"
#include "main/client/report.hpp"
#include "main/options.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>

namespace taskpipe {

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr int exit_some_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_refused = 3;

/// The node refused or could not be reached: report it and exit 3.
struct give_up : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct setup {
  std::string command;
  client::url where;
  std::string token;
  bool json = false;
  int retries = 5;
  std::vector<std::string> positional;
};

std::string read_token_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw option_error{fmt::format("--token-file={}: cannot read the file", path)};
  std::ostringstream text;
  text << in.rdbuf();
  auto token = text.str();
  auto first = token.find_first_not_of(" \t\r\n\f\v");
  auto last = token.find_last_not_of(" \t\r\n\f\v");
  if (first == std::string::npos)
    throw option_error{fmt::format("--token-file={}: the file holds no token", path)};
  return token.substr(first, last - first + 1);
}

/// Parses the command line: FILE|- or ID are the words that are not --options.
/// `operand` is the operand's --help line, which starts with its name.
setup parse(const std::string& command, const std::string& summary, const std::string& operand,
            const std::vector<std::string>& args, bool& help) {
  option_set opts{command, summary};
  opts.add("url", "http://HOST:PORT", "", "the node's HTTP API (required)");
  opts.add("token-file", "PATH", "", "file holding the API token, sent as Authorization: Bearer");
  opts.add("json", "", "", "print the batch's JSON instead of the summary");
  opts.add("retries", "N", "5",
           "retries after a lost connection or a 503, 0.2 s apart and doubling, before exit 3");
  setup out;
  out.command = command;
  std::vector<std::string> options;
  for (const auto& a : args)
    (a.rfind("--", 0) == 0 ? options : out.positional).push_back(a);
  opts.parse(options);
  help = opts.help_requested();
  if (help) {
    fmt::print("{}\n{}\nExit status: 0 success, 1 some tasks failed (submit), 2 bad command line, "
               "3 the node refused or could not be reached.\n",
               opts.help(), operand);
    return out;
  }
  if (!opts.given("url"))
    throw option_error{"--url is required, e.g. --url=http://127.0.0.1:8080"};
  try {
    out.where = client::parse_url(opts.get("url"));
  } catch (const std::invalid_argument& e) {
    throw option_error{fmt::format("--url={}: {}", opts.get("url"), e.what())};
  }
  if (opts.given("token-file"))
    out.token = read_token_file(opts.get("token-file"));
  out.json = opts.flag("json");
  out.retries = static_cast<int>(opts.get_int("retries", 0, 100));
  if (out.positional.size() != 1)
    throw option_error{fmt::format("expected one {}, got {} (see taskpipe {} --help)",
                                   operand.substr(2, operand.find(' ', 2) - 2),
                                   out.positional.size(), command)};
  return out;
}

/// Sends `req`, retrying lost connections and 503s `s.retries` times. A dropped connection is
/// retried too: every request the client sends is safe to repeat (GET, DELETE, and POST with its
/// Idempotency-Key). Throws give_up when the node cannot be reached.
client::response call(const setup& s, client::request req) {
  if (!s.token.empty())
    req.headers.emplace_back("Authorization", "Bearer " + s.token);
  auto pause = 200ms;
  for (int attempt = 0;; ++attempt) {
    std::string problem;
    std::chrono::milliseconds wait = pause;
    try {
      auto r = client::send(s.where, req);
      if (r.status != 503 || attempt >= s.retries)
        return r;
      problem = fmt::format("the node answered 503 ({})", r.body);
      auto after = r.header("retry-after");
      if (!after.empty() && std::all_of(after.begin(), after.end(), ::isdigit))
        wait = std::min<std::chrono::milliseconds>(std::chrono::seconds{std::stoi(after)}, 5s);
    } catch (const client::transport_error& e) {
      if (attempt >= s.retries)
        throw give_up{fmt::format("{} (after {} attempts)", e.what(), attempt + 1)};
      problem = e.what();
    }
    auto same_key = std::any_of(req.headers.begin(), req.headers.end(),
                                [](const auto& h) { return h.first == "Idempotency-Key"; });
    fmt::print(stderr, "taskpipe {}: {}; retrying in {:.1f} s{}\n", s.command, problem,
               static_cast<double>(wait.count()) / 1000.0,
               same_key ? " with the same Idempotency-Key" : "");
    std::this_thread::sleep_for(wait);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 5s);
  }
}

/// An error answer as the node gave it: "404 not_found: no batch ...".
std::string error_text(const client::response& r) {
  try {
    auto j = json::parse(r.body);
    if (j.is_object() && j.contains("error"))
      return fmt::format("{} {}: {}", r.status, j["error"].get<std::string>(),
                         j.value("detail", std::string{}));
  } catch (const json::exception&) {
  }
  return fmt::format("{} {}", r.status, r.body.substr(0, 200));
}

json parse_json(const client::response& r) {
  try {
    return json::parse(r.body);
  } catch (const json::exception& e) {
    throw give_up{fmt::format("the node's answer is not JSON: {}", e.what())};
  }
}

std::string idempotency_key() {
  std::random_device rd;
  std::uint64_t hi = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  std::uint64_t lo = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  return fmt::format("taskpipe-submit-{:016x}{:016x}", hi, lo);
}

std::size_t terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

bool valid_batch_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

void print_status(const setup& s, const client::response& r) {
  if (s.json)
    fmt::print("{}\n", r.body);
  else
    fmt::print("{}", client::summary(parse_json(r)));
}

/// Polls the batch until it has no pending task; returns its last status.
client::response wait_for(const setup& s, const std::string& id) {
  bool show = ::isatty(STDERR_FILENO) != 0;
  bool shown = false;
  auto pause = 100ms;
  for (;;) {
    auto r = call(s, client::request{"GET", "/v1/batches/" + id, {}, {}});
    if (r.status != 200) {
      if (shown)
        fmt::print(stderr, "\r\033[K");
      throw give_up{fmt::format("the status of batch {}: {}", id, error_text(r))};
    }
    auto status = parse_json(r);
    if (status.value("pending", std::uint64_t{1}) == 0) {
      if (shown)
        fmt::print(stderr, "\r\033[K");
      return r;
    }
    if (show) {
      fmt::print(stderr, "\r{}\033[K", client::progress_line(status, terminal_width() - 1));
      std::fflush(stderr);
      shown = true;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 3 / 2, 1000ms);
  }
}

template <class Body>
int run_client(const std::string& command, const std::string& summary, const std::string& operand,
               const std::vector<std::string>& args, Body body) {
  setup s;
  try {
    bool help = false;
    s = parse(command, summary, operand, args, help);
    if (help)
      return 0;
  } catch (const option_error& e) {
    fmt::print(stderr, "taskpipe {}: {}\n", command, e.what());
    return exit_usage;
  }
  try {
    return body(s);
  } catch (const option_error& e) {
    fmt::print(stderr, "taskpipe {}: {}\n", command, e.what());
    return exit_usage;
  } catch (const give_up& e) {
    fmt::print(stderr, "taskpipe {}: {}\n", command, e.what());
    return exit_refused;
  }
}

} // namespace

int submit_command(const std::vector<std::string>& args) {
  return run_client(
    "submit", "Submits a batch to a node (taskpipe serve), waits for it and prints its report.",
    "  FILE|-                       the batch: a JSON body as POST /v1/batches takes it, or JSON "
    "lines of tasks (- reads standard input)",
    args, [](const setup& s) {
      std::string body;
      try {
        body = client::batch_body(client::read_input(s.positional.front()));
      } catch (const std::invalid_argument& e) {
        throw option_error{fmt::format("{}: {}", s.positional.front(), e.what())};
      }
      client::request post{"POST", "/v1/batches?wait=false", std::move(body),
                           {{"Content-Type", "application/json"},
                            {"Idempotency-Key", idempotency_key()}}};
      auto r = call(s, std::move(post));
      std::string id;
      client::response last;
      if (r.status == 202) {
        id = parse_json(r).value("batch_id", std::string{});
        if (!valid_batch_id(id))
          throw give_up{"the node accepted the batch but gave no batch id: " + r.body};
        last = wait_for(s, id);
      } else if (r.status == 200) {
        last = r;  // a report already (a replayed Idempotency-Key of a finished batch)
      } else {
        throw give_up{"the node refused the batch: " + error_text(r)};
      }
      print_status(s, last);
      return parse_json(last).value("failed", std::uint64_t{0}) == 0 ? 0 : exit_some_failed;
    });
}

namespace {

int status_or_cancel(const std::string& command, const std::string& method,
                     const std::string& summary, const std::vector<std::string>& args) {
  return run_client(command, summary, "  ID                           the batch id (b-...)", args,
                    [&](const setup& s) {
                      const auto& id = s.positional.front();
                      if (!valid_batch_id(id))
                        throw option_error{fmt::format("'{}' is not a batch id (b-...)", id)};
                      auto r = call(s, client::request{method, "/v1/batches/" + id, {}, {}});
                      if (r.status != 200)
                        throw give_up{error_text(r)};
                      print_status(s, r);
                      return 0;
                    });
}

} // namespace

int status_command(const std::vector<std::string>& args) {
  return status_or_cancel("status", "GET", "Prints the status of a batch on a node.", args);
}

int cancel_command(const std::vector<std::string>& args) {
  return status_or_cancel("cancel", "DELETE",
                          "Cancels a batch on a node (tasks not yet handed to Update fail with "
                          "cancelled) and prints its status.",
                          args);
}

} // namespace taskpipe
