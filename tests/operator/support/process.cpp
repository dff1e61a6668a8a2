#include "support/process.hpp"

#include "support/serve_process.hpp"  // taskpipe_binary(), temp_dir

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <stdexcept>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace taskpipe::test {

namespace {

int decode_status(int raw) {
  if (WIFEXITED(raw))
    return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw))
    return 128 + WTERMSIG(raw);
  return -1;
}

/// environ plus `add` ("NAME=value" entries replace those of the same name).
std::vector<std::string> environment(const std::vector<std::string>& add) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry{*e};
    auto name = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (const auto& a : add)
      replaced = replaced || a.rfind(name, 0) == 0;
    if (!replaced)
      out.push_back(entry);
  }
  out.insert(out.end(), add.begin(), add.end());
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& text) {
  std::vector<char*> out;
  for (auto& t : text)
    out.push_back(t.data());
  out.push_back(nullptr);
  return out;
}

std::string temp_path(const char* what) {
  static int counter = 0;
  return (std::filesystem::temp_directory_path()
          / ("taskpipe-op-" + std::to_string(::getpid()) + "-" + what + "-"
             + std::to_string(++counter)))
    .string();
}

} // namespace

child::child(const std::vector<std::string>& argv_text, const std::vector<std::string>& env_add) {
  auto env_text = environment(env_add);
  auto env = pointers(env_text);
  auto args = argv_text;
  auto argv = pointers(args);
  int out[2];
  if (::pipe(out) != 0)
    throw std::runtime_error("pipe failed");
  stderr_path_ = temp_path("stderr");
  int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::close(out[0]);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), env.data());
    std::_Exit(127);
  }
  ::close(out[1]);
  ::close(err_fd);
  stdout_fd_ = out[0];
}

child::~child() {
  if (status_ == -2) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds{10});
  }
  if (stdout_fd_ >= 0)
    ::close(stdout_fd_);
  std::remove(stderr_path_.c_str());
}

std::string child::wait_line(const std::string& prefix, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n')) {
      auto line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (line.rfind(prefix, 0) == 0)
        return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
    if (left <= 0)
      return {};
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0)
      return {};
    char buf[512];
    auto n = ::read(stdout_fd_, buf, sizeof(buf));
    if (n <= 0)
      return {};
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

void child::signal(int sig) const {
  ::kill(pid_, sig);
}

int child::wait_exit(std::chrono::milliseconds timeout) {
  if (status_ != -2)
    return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int raw = 0;
    if (::waitpid(pid_, &raw, WNOHANG) == pid_) {
      status_ = decode_status(raw);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

std::string child::stderr_text() const {
  return read_file(stderr_path_);
}

int port_of(const std::string& line) {
  auto colon = line.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
}

exec_result exec(const std::vector<std::string>& argv_text, const exec_options& opts) {
  temp_dir dir;
  auto out_path = dir.path() + "/out";
  auto err_path = dir.path() + "/err";
  auto in_path = dir.path() + "/in";
  write_file(in_path, opts.stdin_text);
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  auto env_text = environment(opts.env);
  auto env = pointers(env_text);
  std::vector<std::string> args = argv_text;
  auto argv = pointers(args);
  int in_fd = ::open(in_path.c_str(), O_RDONLY);
  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!opts.cwd.empty() && ::chdir(opts.cwd.c_str()) != 0)
      std::_Exit(126);
    ::execve(argv[0], argv.data(), env.data());
    std::_Exit(127);
  }
  ::close(in_fd);
  ::close(out_fd);
  ::close(err_fd);
  exec_result result;
  auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  for (;;) {
    int raw = 0;
    if (::waitpid(pid, &raw, WNOHANG) == pid) {
      result.status = decode_status(raw);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &raw, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

exec_result taskpipe_exec(const std::vector<std::string>& args, const exec_options& opts) {
  std::vector<std::string> argv{taskpipe_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return exec(argv, opts);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(line);
  return out;
}

} // namespace taskpipe::test
