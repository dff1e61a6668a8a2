#include "main/sd_notify.hpp"

#include "main/log.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace taskpipe {

bool sd_notify(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0')
    return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
    return false;  // vsock: and other address kinds are not ours to handle
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@')
    addr.sun_path[0] = '\0';  // an abstract socket
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return false;
  auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), addr_len);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

readiness::readiness(std::vector<stage> remote) {
  for (auto s : remote)
    connected_[s];
}

void readiness::listening(const std::string& address) {
  std::lock_guard guard{mutex_};
  listening_ = true;
  address_ = address;
  update();
}

void readiness::on_peer(const peer_event& ev) {
  std::string stages;
  for (auto s : ev.stages)
    stages += (stages.empty() ? "" : ",") + to_string(s);
  switch (ev.what) {
    case peer_event::kind::connected:
      log::info("serve", fmt::format("stage host {} connected ({})", ev.peer, stages),
                {{"peer", ev.peer}, {"stages", stages}});
      break;
    case peer_event::kind::unreachable:
      log::warn("serve", fmt::format("stage host {} unreachable ({}): {}; retrying every second",
                                     ev.peer, stages, ev.detail),
                {{"peer", ev.peer}, {"stages", stages}, {"reason", ev.detail}});
      break;
    case peer_event::kind::lost:
      log::warn("serve", fmt::format("stage host {} lost ({}): {}", ev.peer, stages, ev.detail),
                {{"peer", ev.peer}, {"stages", stages}, {"reason", ev.detail}});
      break;
  }
  std::lock_guard guard{mutex_};
  for (auto s : ev.stages) {
    if (ev.what == peer_event::kind::connected)
      connected_[s].insert(ev.peer);
    else
      connected_[s].erase(ev.peer);
  }
  update();
}

bool readiness::ready() const {
  std::lock_guard guard{mutex_};
  return ready_;
}

void readiness::update() {
  if (ready_)
    return;  // READY=1 is said once; later losses are logged, not un-readied
  std::string waiting;
  for (const auto& [s, hosts] : connected_)
    if (hosts.empty())
      waiting += (waiting.empty() ? "" : ", ") + to_string(s);
  if (listening_ && waiting.empty()) {
    ready_ = true;
    sd_notify(fmt::format("READY=1\nSTATUS=serving on {}", address_));
    log::info("serve", "ready", {{"address", address_}});
    return;
  }
  auto status = listening_ ? fmt::format("STATUS=listening on {}, waiting for stage hosts of {}",
                                         address_, waiting)
                           : std::string{"STATUS=starting"};
  if (status != last_status_) {
    last_status_ = status;
    sd_notify(status);
  }
}

} // namespace taskpipe
