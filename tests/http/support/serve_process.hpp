// Runs `taskpipe serve` (or `taskpipe node`) as a real child process for the integration tests:
// reads the port from its "listening on HOST:PORT" line ("node listening on ..."), and kills it
// (SIGKILL) if a test ends with it still running.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace taskpipe::test {

class serve_process {
public:
  /// Starts `binary serve ARGS...` (stdout read for the port, stderr to a temporary file).
  /// Throws std::runtime_error when it does not print "listening on" within `startup`.
  explicit serve_process(const std::vector<std::string>& args,
                         std::chrono::milliseconds startup = std::chrono::seconds{20});

  /// Starts `binary COMMAND ARGS...` instead, e.g. a stage host (`node`).
  serve_process(const std::string& command, const std::vector<std::string>& args,
                std::chrono::milliseconds startup = std::chrono::seconds{20});

  ~serve_process();

  serve_process(const serve_process&) = delete;
  serve_process& operator=(const serve_process&) = delete;

  std::uint16_t port() const {
    return port_;
  }

  pid_t pid() const {
    return pid_;
  }

  /// The first stdout line ("listening on 127.0.0.1:PORT").
  const std::string& banner() const {
    return banner_;
  }

  void signal(int sig) const;

  /// Waits for the exit; its status (exit code, or 128 + signal), or none on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  bool running();

  /// What the process wrote on stderr so far.
  std::string stderr_text() const;

  /// Its resident set now (VmRSS) and at its peak (VmHWM) in KiB, from /proc/PID/status; 0 when
  /// the process is gone.
  std::uint64_t rss_kib() const;
  std::uint64_t peak_rss_kib() const;

private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string banner_;
  std::string stderr_path_;
  std::optional<int> status_;
};

/// Runs `binary ARGS...` to completion (bounded by `timeout`, killed after it); returns the exit
/// status and stdout+stderr.
struct run_result {
  int status = -1;
  std::string output;
};
run_result run_taskpipe(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds{20});

/// The taskpipe binary under test (compile definition TASKPIPE_BINARY).
std::string taskpipe_binary();

/// A fresh empty directory under the temp dir, removed with everything in it on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const {
    return path_;
  }

private:
  std::string path_;
};

} // namespace taskpipe::test
