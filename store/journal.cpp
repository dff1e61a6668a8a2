#include "store/journal.hpp"

#include <cstring>

namespace taskpipe {

namespace {

template <class T>
void put(std::string& out, T x) {
  unsigned char bytes[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i)
    bytes[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(x) >> (8 * i));
  out.append(reinterpret_cast<const char*>(bytes), sizeof(T));
}

template <class T>
bool take(std::string_view& in, T& x) {
  if (in.size() < sizeof(T))
    return false;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  x = static_cast<T>(v);
  in.remove_prefix(sizeof(T));
  return true;
}

void put_text(std::string& out, const std::string& text) {
  put(out, static_cast<std::uint32_t>(text.size()));
  out += text;
}

bool take_text(std::string_view& in, caf::optional<std::string>& out) {
  std::uint32_t n = 0;
  if (!take(in, n) || in.size() < n)
    return false;
  out = std::string{in.substr(0, n)};
  in.remove_prefix(n);
  return true;
}

} // namespace

std::string encode_tasks(const std::vector<task_update>& tasks) {
  std::size_t size = 4;
  for (const auto& t : tasks)
    size += 9 + (t.type ? 4 + t.type->size() : 0) + (t.summary ? 4 + t.summary->size() : 0);
  std::string out;
  out.reserve(size);
  put(out, static_cast<std::uint32_t>(tasks.size()));
  for (const auto& t : tasks) {
    put(out, t.id);
    put(out, static_cast<std::uint8_t>((t.type ? 1 : 0) | (t.summary ? 2 : 0)));
    if (t.type)
      put_text(out, *t.type);
    if (t.summary)
      put_text(out, *t.summary);
  }
  return out;
}

bool decode_tasks(std::string_view blob, std::vector<task_update>& out) {
  std::uint32_t n = 0;
  if (!take(blob, n) || blob.size() / 9 < n)
    return false;
  out.clear();
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    task_update t;
    std::uint8_t flags = 0;
    if (!take(blob, t.id) || !take(blob, flags) || flags > 3)
      return false;
    if ((flags & 1) && !take_text(blob, t.type))
      return false;
    if ((flags & 2) && !take_text(blob, t.summary))
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
