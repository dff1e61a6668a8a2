// The digest of a request body that tells a retry (same Idempotency-Key, same body) from a reused
// key (another body). Not cryptographic: it guards against a client's mistakes, not its malice
// (a client that forges a collision only confuses its own key).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace taskpipe::http {

/// 32 hex digits (two independent 64-bit hashes) plus ":" and the body's length in bytes.
inline std::string body_digest(std::string_view body) {
  std::uint64_t a = 0x9E3779B97F4A7C15ULL ^ body.size();
  std::uint64_t b = 0xC2B2AE3D27D4EB4FULL + body.size();
  auto mix = [](std::uint64_t h, std::uint64_t w, std::uint64_t k) {
    h ^= w * k;
    h = (h << 31) | (h >> 33);
    return h * 0x9FB21C651E98DF25ULL + 0x165667B19E3779F9ULL;
  };
  std::size_t i = 0;
  for (; i + 8 <= body.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, body.data() + i, 8);
    a = mix(a, w, 0x87C37B91114253D5ULL);
    b = mix(b, w ^ (w >> 29), 0x4CF5AD432745937FULL);
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, body.data() + i, body.size() - i);
  a = mix(a, tail, 0x87C37B91114253D5ULL);
  b = mix(b, tail ^ 0xFF51AFD7ED558CCDULL, 0x4CF5AD432745937FULL);
  auto fin = [](std::uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 33);
  };
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (auto h : {fin(a), fin(b ^ a)})
    for (int shift = 60; shift >= 0; shift -= 4)
      out += hex[(h >> shift) & 0xF];
  out += ':';
  out += std::to_string(body.size());
  return out;
}

} // namespace taskpipe::http
