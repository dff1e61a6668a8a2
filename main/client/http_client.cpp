// <utility> first: Boost 1.74's headers use std::exchange without including it (g++ 12).
#include <utility>

#include "main/client/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <charconv>
#include <limits>

namespace taskpipe::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string url::text() const {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "http://" + h + ":" + std::to_string(port) + base;
}

url parse_url(const std::string& text) {
  constexpr std::string_view scheme = "http://";
  if (text.rfind("https://", 0) == 0)
    throw std::invalid_argument("https is not supported: the node's HTTP API is plain HTTP (put "
                                "a TLS proxy in front of it and give its plain address)");
  if (text.rfind(scheme, 0) != 0)
    throw std::invalid_argument("expected http://HOST:PORT");
  auto rest = std::string_view{text}.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  url out;
  if (slash != std::string_view::npos) {
    out.base = std::string{rest.substr(slash)};
    while (!out.base.empty() && out.base.back() == '/')
      out.base.pop_back();
    if (out.base.find_first_of("?#") != std::string::npos)
      throw std::invalid_argument("the URL takes no query or fragment");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      throw std::invalid_argument("unclosed [ in the host");
    out.host = std::string{authority.substr(1, close - 1)};
    auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      throw std::invalid_argument("expected :PORT after ]");
    if (!after.empty())
      port_text = after.substr(1);
  } else {
    auto colon = authority.rfind(':');
    out.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos)
      port_text = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.host.find('@') != std::string::npos)
    throw std::invalid_argument("expected http://HOST:PORT with a host name or address");
  if (!port_text.empty() || authority.find(':') != std::string_view::npos) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size()
        || value == 0 || value > 65535)
      throw std::invalid_argument("the port must be a number from 1 to 65535");
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

std::string response::header(const std::string& name) const {
  auto i = headers.find(name);
  return i == headers.end() ? std::string{} : i->second;
}

response send(const url& where, const request& req, std::chrono::milliseconds connect_timeout,
              std::chrono::milliseconds answer_timeout) {
  asio::io_context ioc;
  tcp::resolver resolver{ioc};
  beast::error_code ec;
  auto addresses = resolver.resolve(where.host, std::to_string(where.port), ec);
  auto at = where.host + ":" + std::to_string(where.port);
  if (ec)
    throw transport_error{transport_error::kind::unreachable,
                          "cannot resolve " + where.host + ": " + ec.message()};
  beast::tcp_stream stream{ioc};

  // Each step runs the io_context until its handler ran; the stream's timer bounds it.
  auto run = [&] {
    ioc.restart();
    ioc.run();
  };
  stream.expires_after(connect_timeout);
  stream.async_connect(addresses, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  run();
  if (ec)
    throw transport_error{transport_error::kind::unreachable,
                          "cannot connect to " + at + ": " + ec.message()};

  bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(req.method), where.base + req.target,
                                         11};
  if (out.method() == bhttp::verb::unknown)
    out.method_string(req.method);
  out.set(bhttp::field::host, at);
  out.set(bhttp::field::user_agent, "taskpipe-client");
  out.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : req.headers)
    out.set(name, value);
  out.body() = req.body;
  if (!req.body.empty() || out.method() == bhttp::verb::post)
    out.prepare_payload();

  stream.expires_after(answer_timeout);
  bhttp::async_write(stream, out, [&](beast::error_code e, std::size_t) { ec = e; });
  run();
  if (ec && ec != beast::error::timeout)
    throw transport_error{transport_error::kind::dropped,
                          "the connection to " + at + " broke while sending: " + ec.message()};
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (!ec) {
    bhttp::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
  }
  if (ec == beast::error::timeout)
    throw transport_error{transport_error::kind::timeout,
                          "no answer from " + at + " within "
                            + std::to_string(answer_timeout.count() / 1000) + " s"};
  if (ec)
    throw transport_error{transport_error::kind::dropped,
                          "the connection to " + at + " broke before the answer: " + ec.message()};
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  response result;
  const auto& msg = parser.get();
  result.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    std::string name{field.name_string()};
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string{field.value()};
  }
  result.body = msg.body();
  return result;
}

} // namespace taskpipe::client
