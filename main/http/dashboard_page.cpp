#include "main/http/dashboard_page.hpp"

#include <cstdint>

namespace taskpipe::http {

namespace {

/// Base64 of the bytes a hex string spells (CMake gives the hashes in hex; CSP wants base64).
std::string hex_to_base64(std::string_view hex) {
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto nibble = [](char c) {
    return static_cast<std::uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  };
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t n = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      n |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size())
      n |= static_cast<std::uint8_t>(bytes[i + 2]);
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += i + 1 < bytes.size() ? alphabet[n >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[n & 63] : '=';
  }
  return out;
}

} // namespace

const std::string& dashboard_csp() {
  static const std::string csp =
    "default-src 'none'; script-src 'sha256-" + hex_to_base64(dashboard_assets::script_sha256_hex())
    + "'; style-src 'sha256-" + hex_to_base64(dashboard_assets::style_sha256_hex())
    + "'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
      "frame-ancestors 'none'";
  return csp;
}

response dashboard_page(bhttp::status status) {
  response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::string{dashboard_assets::html()};
  r.headers.emplace_back(bhttp::field::cache_control, "no-store");
  r.named_headers.emplace_back("Content-Security-Policy", dashboard_csp());
  r.named_headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.named_headers.emplace_back("Referrer-Policy", "no-referrer");
  if (status == bhttp::status::unauthorized)
    r.headers.emplace_back(bhttp::field::www_authenticate, "Bearer realm=\"taskpipe\"");
  return r;
}

} // namespace taskpipe::http
