// Where a stage host listens.
#pragma once

#include <cstdint>
#include <string>

namespace taskpipe {

struct endpoint {
  std::string host;
  std::uint16_t port = 0;

  friend bool operator==(const endpoint&, const endpoint&) = default;
};

/// "HOST:PORT", or "[HOST]:PORT" for an IPv6 address.
std::string to_string(const endpoint& x);

} // namespace taskpipe
