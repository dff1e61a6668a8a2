#include "actors/remote/endpoint.hpp"

#include <fmt/format.h>

namespace taskpipe {

std::string to_string(const endpoint& x) {
  return x.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", x.host, x.port)
                                               : fmt::format("{}:{}", x.host, x.port);
}

} // namespace taskpipe
