// Runs a program to completion for the operator tests, with its own environment additions,
// working directory and standard input, and stdout and stderr kept apart.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace taskpipe::test {

struct exec_options {
  std::vector<std::string> env;  ///< "NAME=value" added to (or replacing in) the environment
  std::string cwd;               ///< empty: the test's own
  std::string stdin_text;        ///< fed on standard input (then closed)
  std::chrono::milliseconds timeout{20'000};  ///< killed (SIGKILL) after it; status -1
};

struct exec_result {
  int status = -1;  ///< exit code, 128 + signal, or -1 on timeout
  std::string out;
  std::string err;
};

/// Runs argv[0] (a path) with argv[1..].
exec_result exec(const std::vector<std::string>& argv, const exec_options& opts = {});

/// Runs the taskpipe binary under test with `args`.
exec_result taskpipe_exec(const std::vector<std::string>& args, const exec_options& opts = {});

/// A program running in the background with its own environment additions: stdout is read line
/// by line, stderr goes to a file. Killed (SIGKILL) on destruction if still running.
class child {
public:
  child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// The next stdout line that starts with `prefix` (earlier lines are skipped), or "" when none
  /// comes within `timeout`.
  std::string wait_line(const std::string& prefix,
                        std::chrono::milliseconds timeout = std::chrono::seconds{20});
  void signal(int sig) const;
  /// Exit status (or 128 + signal), -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds{20});
  std::string stderr_text() const;
  int pid() const {
    return pid_;
  }

private:
  int pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;
  std::string stderr_path_;
  int status_ = -2;
};

/// The port of a "... listening on HOST:PORT" line.
int port_of(const std::string& line);

/// Writes `text` to `path` (replacing it).
void write_file(const std::string& path, const std::string& text);

/// The whole file, or "" when it cannot be read.
std::string read_file(const std::string& path);

/// Non-empty lines of `text`.
std::vector<std::string> lines(const std::string& text);

} // namespace taskpipe::test
