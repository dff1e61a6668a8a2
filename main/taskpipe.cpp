// The taskpipe executable: picks the command and hands it the rest of the command line.
#include "main/client/client_command.hpp"
#include "main/serve_command.hpp"
#include "main/node_command.hpp"
#include "main/run_command.hpp"
#include "main/version.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace {

constexpr const char* usage = R"(usage: taskpipe COMMAND [OPTIONS]

commands:
  run     runs one generated batch through the pipeline in-process and prints a summary
  serve   starts the HTTP batch API on this node
  node    starts a stage host that publishes stage pools over CAF networking
  submit  submits a batch to a node's HTTP API, shows progress, prints the report
  status  prints the status of a batch on a node
  cancel  cancels a batch on a node

`taskpipe COMMAND --help` lists the command's options with their defaults;
`taskpipe --version` (or -V) prints the version.
)";

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args.front() == "--help" || args.front() == "-h" || args.front() == "help") {
    fmt::print("{}", usage);
    return args.empty() ? 2 : 0;
  }
  if (args.front() == "--version" || args.front() == "-V") {
    fmt::print("{}\n", taskpipe::version_line());
    return 0;
  }
  auto command = args.front();
  args.erase(args.begin());
  if (command == "run")
    return taskpipe::run_command(args);
  if (command == "node")
    return taskpipe::node_command(args);
  if (command == "serve")
    return taskpipe::serve_command(args);
  if (command == "submit")
    return taskpipe::submit_command(args);
  if (command == "status")
    return taskpipe::status_command(args);
  if (command == "cancel")
    return taskpipe::cancel_command(args);
  fmt::print(stderr, "taskpipe: unknown command '{}'\n\n{}", command, usage);
  return 2;
}
