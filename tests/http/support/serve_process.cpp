#include "support/serve_process.hpp"

#include <csignal>
#include <fcntl.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#ifndef TASKPIPE_BINARY
#  error "TASKPIPE_BINARY must name the taskpipe executable"
#endif

namespace taskpipe::test {

using clock_type = std::chrono::steady_clock;

std::string taskpipe_binary() {
  if (const char* env = std::getenv("TASKPIPE_BINARY"))
    return env;
  return TASKPIPE_BINARY;
}

namespace {

std::string temp_name(const char* what) {
  static int counter = 0;
  auto dir = std::filesystem::temp_directory_path();
  return (dir / ("taskpipe-test-" + std::to_string(::getpid()) + "-" + what + "-"
                 + std::to_string(++counter)))
    .string();
}

int decode_status(int raw) {
  if (WIFEXITED(raw))
    return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw))
    return 128 + WTERMSIG(raw);
  return -1;
}

pid_t spawn(const std::vector<std::string>& args, int stdout_fd, int stderr_fd) {
  std::vector<std::string> argv_text;
  argv_text.push_back(taskpipe_binary());
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(stdout_fd, STDOUT_FILENO);
    ::dup2(stderr_fd, STDERR_FILENO);
    // Unblock every signal the test runner may have blocked.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  return pid;
}

} // namespace

serve_process::serve_process(const std::vector<std::string>& args,
                             std::chrono::milliseconds startup)
    : serve_process("serve", args, startup) {
}

serve_process::serve_process(const std::string& command, const std::vector<std::string>& args,
                             std::chrono::milliseconds startup) {
  int out[2];
  if (::pipe(out) != 0)
    throw std::runtime_error("pipe failed");
  stderr_path_ = temp_name("stderr");
  int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> full{command};
  full.insert(full.end(), args.begin(), args.end());
  pid_ = spawn(full, out[1], err_fd);
  ::close(out[1]);
  ::close(err_fd);
  stdout_fd_ = out[0];
  // Read the first line.
  auto deadline = clock_type::now() + startup;
  std::string text;
  while (text.find('\n') == std::string::npos) {
    auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0)
      break;
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0)
      break;
    char buf[256];
    auto n = ::read(stdout_fd_, buf, sizeof(buf));
    if (n <= 0)
      break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  banner_ = text.substr(0, text.find('\n'));
  auto colon = banner_.rfind(':');
  auto prefix = command == "serve" ? "listening on " : command + " listening on ";
  if (banner_.rfind(prefix, 0) != 0 || colon == std::string::npos) {
    auto err = stderr_text();
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds{5});
    throw std::runtime_error("taskpipe " + command + " did not start: stdout '" + text
                             + "', stderr '" + err + "'");
  }
  port_ = static_cast<std::uint16_t>(std::atoi(banner_.c_str() + colon + 1));
}

serve_process::~serve_process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds{10});
  }
  if (stdout_fd_ >= 0)
    ::close(stdout_fd_);
  std::remove(stderr_path_.c_str());
}

void serve_process::signal(int sig) const {
  ::kill(pid_, sig);
}

bool serve_process::running() {
  if (status_)
    return false;
  int raw = 0;
  auto r = ::waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) {
    status_ = decode_status(raw);
    return false;
  }
  return r == 0;
}

std::optional<int> serve_process::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (running()) {
    if (clock_type::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return status_;
}

std::string serve_process::stderr_text() const {
  std::ifstream in{stderr_path_};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

run_result run_taskpipe(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  auto path = temp_name("run");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = spawn(args, fd, fd);
  ::close(fd);
  run_result result;
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    int raw = 0;
    auto r = ::waitpid(pid, &raw, WNOHANG);
    if (r == pid) {
      result.status = decode_status(raw);
      break;
    }
    if (clock_type::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &raw, 0);
      result.status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  std::ifstream in{path};
  std::stringstream s;
  s << in.rdbuf();
  result.output = s.str();
  std::remove(path.c_str());
  return result;
}

temp_dir::temp_dir() {
  path_ = temp_name("dir");
  std::filesystem::create_directories(path_);
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

std::uint64_t status_kib(pid_t pid, const std::string& key) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0)
      return std::strtoull(line.c_str() + key.size(), nullptr, 10);
  return 0;
}

} // namespace

std::uint64_t serve_process::rss_kib() const {
  return status_kib(pid_, "VmRSS:");
}

std::uint64_t serve_process::peak_rss_kib() const {
  return status_kib(pid_, "VmHWM:");
}

} // namespace taskpipe::test
