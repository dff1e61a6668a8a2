#include "store/journal.hpp"

#include <string_view>

namespace taskpipe {

namespace {

// The blob's first four bytes. Read as the old format's 32-bit task count (little endian) they
// say 843 million tasks, which would need a blob of at least 7.5 GB, more than SQLite or
// PostgreSQL store in one value: a blob that starts with them is never of the old format.
constexpr char compact_magic[4] = {'\xff', 'T', 'J', '2'};

// Type codes of the compact format (low three bits of a task's flag byte).
constexpr std::uint8_t no_type = 0;   // the task changes no type
constexpr std::uint8_t raw_type = 5;  // any other text, kept as it came (Validate rejects it)
constexpr std::uint8_t has_summary = 8;

void put_varint(std::string& out, std::uint64_t x) {
  while (x >= 0x80) {
    out += static_cast<char>(static_cast<unsigned char>(x | 0x80));
    x >>= 7;
  }
  out += static_cast<char>(static_cast<unsigned char>(x));
}

bool take_varint(std::string_view& in, std::uint64_t& x) {
  x = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (in.empty())
      return false;
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    x |= std::uint64_t{byte & 0x7fu} << shift;
    if (byte < 0x80)
      return shift < 63 || byte <= 1; // the tenth byte holds only the top bit
  }
  return false;
}

void put_text(std::string& out, const std::string& text) {
  put_varint(out, text.size());
  out += text;
}

// A text's `n` bytes, once its length was read (each format reads it its own way).
bool take_bytes(std::string_view& in, std::uint64_t n, caf::optional<std::string>& out) {
  if (in.size() < n)
    return false;
  out = std::string{in.substr(0, n)};
  in.remove_prefix(n);
  return true;
}

bool take_text(std::string_view& in, caf::optional<std::string>& out) {
  std::uint64_t n = 0;
  return take_varint(in, n) && take_bytes(in, n, out);
}

// Ids as the difference to the previous one, zigzag-mapped so that small steps either way take
// one byte (unsigned arithmetic: wraps, never overflows).
std::uint64_t zigzag(std::uint64_t delta) {
  return (delta << 1) ^ (0 - (delta >> 63));
}

std::uint64_t unzigzag(std::uint64_t x) {
  return (x >> 1) ^ (0 - (x & 1));
}

std::uint8_t type_code(const caf::optional<std::string>& type) {
  task_type known;
  if (!type)
    return no_type;
  if (from_string(*type, known))
    return static_cast<std::uint8_t>(static_cast<std::uint8_t>(known) + 1);
  return raw_type;
}

// The format written before the compact one: per task 8 bytes of id, a flag byte and each text
// with a 4-byte length. Still read, so that a batch journaled by an older node resumes.
template <class T>
bool take_fixed(std::string_view& in, T& x) {
  if (in.size() < sizeof(T))
    return false;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  x = static_cast<T>(v);
  in.remove_prefix(sizeof(T));
  return true;
}

bool take_fixed_text(std::string_view& in, caf::optional<std::string>& out) {
  std::uint32_t n = 0;
  return take_fixed(in, n) && take_bytes(in, n, out);
}

bool decode_fixed(std::string_view blob, std::vector<task_update>& out) {
  std::uint32_t n = 0;
  if (!take_fixed(blob, n) || blob.size() / 9 < n)
    return false;
  out.clear();
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    task_update t;
    std::uint8_t flags = 0;
    if (!take_fixed(blob, t.id) || !take_fixed(blob, flags) || flags > 3)
      return false;
    if ((flags & 1) && !take_fixed_text(blob, t.type))
      return false;
    if ((flags & 2) && !take_fixed_text(blob, t.summary))
      return false;
    out.push_back(std::move(t));
  }
  return blob.empty();
}

} // namespace

std::string encode_tasks(const std::vector<task_update>& tasks) {
  // The mark, the count, then per task as usual: a one-byte id step, the flag byte, no raw type.
  std::size_t size = sizeof compact_magic + 10;
  for (const auto& t : tasks)
    size += 2 + (t.summary ? 2 + t.summary->size() : 0);
  std::string out;
  out.reserve(size);
  out.append(compact_magic, sizeof compact_magic);
  put_varint(out, tasks.size());
  std::uint64_t previous = 0;
  for (const auto& t : tasks) {
    auto id = static_cast<std::uint64_t>(t.id);
    put_varint(out, zigzag(id - previous));
    previous = id;
    auto code = type_code(t.type);
    out += static_cast<char>(code | (t.summary ? has_summary : 0));
    if (code == raw_type)
      put_text(out, *t.type);
    if (t.summary)
      put_text(out, *t.summary);
  }
  return out;
}

bool decode_tasks(std::string_view blob, std::vector<task_update>& out) {
  if (blob.substr(0, sizeof compact_magic) != std::string_view{compact_magic, sizeof compact_magic})
    return decode_fixed(blob, out);
  blob.remove_prefix(sizeof compact_magic);
  std::uint64_t n = 0;
  if (!take_varint(blob, n) || blob.size() / 2 < n) // every task takes at least two bytes
    return false;
  out.clear();
  out.reserve(n);
  std::uint64_t previous = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    task_update t;
    std::uint64_t delta = 0;
    if (!take_varint(blob, delta) || blob.empty())
      return false;
    previous += unzigzag(delta);
    t.id = static_cast<std::int64_t>(previous);
    auto flags = static_cast<unsigned char>(blob.front());
    blob.remove_prefix(1);
    auto code = static_cast<std::uint8_t>(flags & 7);
    if ((flags & ~(7 | has_summary)) != 0 || code > raw_type)
      return false;
    if (code == raw_type) {
      if (!take_text(blob, t.type))
        return false;
    } else if (code != no_type) {
      t.type = to_string(static_cast<task_type>(code - 1));
    }
    if ((flags & has_summary) && !take_text(blob, t.summary))
      return false;
    out.push_back(std::move(t));
  }
  return blob.empty();
}

std::string expired_while_down_reason(bool applied) {
  return applied ? "batch deadline passed while the node was down (the update was applied)"
                 : "batch deadline passed while the node was down (the update was not applied)";
}

std::string cancelled_while_down_reason(bool applied) {
  return applied ? "batch cancelled; the node restarted before the task finished (the update "
                   "was applied)"
                 : "batch cancelled; the node restarted before the task finished (not applied)";
}

} // namespace taskpipe
