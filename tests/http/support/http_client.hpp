// A small HTTP/1.1 client for the tests (Boost.Beast underneath, every call bounded in time), and
// raw-socket helpers for the malformed, partial and dropped requests a real client never sends.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskpipe::test {

struct http_request {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  /// Extra headers; Host and Content-Length are set by the client.
  std::vector<std::pair<std::string, std::string>> headers;

  static http_request post_json(std::string target, std::string body);
  http_request& header(std::string name, std::string value);
};

struct http_response {
  int status = 0;  ///< 0: no response (see error)
  std::map<std::string, std::string> headers;  ///< lowercase names
  std::string body;
  std::string error;  ///< what went wrong when there is no response
  double elapsed_ms = 0;

  std::string header(const std::string& lowercase_name) const;
};

using std::chrono::milliseconds;

/// One request on a fresh connection.
http_response http_call(std::uint16_t port, const http_request& req,
                        milliseconds timeout = milliseconds{10'000});

/// `count` copies of `req`, each on its own connection, all at once (one thread). Each result
/// in order; the whole run is bounded by `timeout`.
std::vector<http_response> http_call_many(std::uint16_t port, const http_request& req,
                                          std::size_t count,
                                          milliseconds timeout = milliseconds{30'000});

/// Several requests one after the other on one keep-alive connection.
std::vector<http_response> http_call_sequence(std::uint16_t port,
                                              const std::vector<http_request>& reqs,
                                              milliseconds timeout = milliseconds{10'000});

/// Raw bytes: connects, sends `bytes`, then reads until the server closes or `timeout` passes.
/// With `shutdown_after_send` the client half-closes after sending.
std::string raw_exchange(std::uint16_t port, std::string_view bytes,
                         milliseconds timeout = milliseconds{5'000},
                         bool shutdown_after_send = false);

/// Raw bytes: connects, sends `bytes`, reads until at least one full response head arrived or
/// `timeout` passed, then returns what it read (the connection is then closed).
std::string raw_until_response(std::uint16_t port, std::string_view bytes,
                               milliseconds timeout = milliseconds{5'000});

/// Connects, sends `bytes`, waits `pause`, then closes the socket abruptly (RST when `reset`).
void send_and_drop(std::uint16_t port, std::string_view bytes,
                   milliseconds pause = milliseconds{50}, bool reset = false);

/// The status code of a raw response ("HTTP/1.1 413 ..." -> 413), 0 if none.
int raw_status(std::string_view response);

/// How many responses (status lines) raw text holds.
int raw_response_count(std::string_view text);

/// What raw_stream saw.
struct stream_result {
  std::string received;    ///< everything the server sent
  std::uint64_t sent = 0;  ///< bytes the server took (head included)
  bool closed = false;     ///< the server closed or reset the connection
};

/// Connects, sends `head`, then `filler_bytes` copies of `filler` (in 1 MiB writes), reading
/// whatever the server answers all the while; stops once the server closes, or `linger` after
/// everything was sent (then closes).
stream_result raw_stream(std::uint16_t port, std::string_view head, char filler,
                         std::uint64_t filler_bytes, milliseconds linger = milliseconds{2'000});

/// A raw connection held open by the test (closed on destruction).
class raw_connection {
public:
  explicit raw_connection(std::uint16_t port);
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  bool connected() const {
    return fd_ >= 0;
  }
  bool send(std::string_view bytes);
  /// Reads until the server closes, `timeout` passes, or a whole response head arrived (when
  /// `until_head`).
  std::string read(milliseconds timeout, bool until_head = false);

private:
  int fd_ = -1;
};

} // namespace taskpipe::test
