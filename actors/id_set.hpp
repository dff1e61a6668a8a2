// A set of task ids sized once for a batch (the coordinator marks repeated ids with it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace taskpipe {

/// Finds repeated ids in a batch: an open-addressing set sized once for the batch (a node-based
/// std::unordered_set costs a cache miss and an allocation per id at a million ids).
class id_set {
public:
  explicit id_set(std::size_t n) {
    std::size_t size = 16;
    while (size < 2 * n)
      size *= 2;
    slots_.assign(size, empty);
  }

  /// Inserts `id`; false if it was there already.
  bool insert(std::int64_t id) {
    if (id == empty) {
      bool first = !has_empty_;
      has_empty_ = true;
      return first;
    }
    auto mask = slots_.size() - 1;
    auto h = static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ULL;
    for (auto i = (h ^ (h >> 32)) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == id)
        return false;
      if (slots_[i] == empty) {
        slots_[i] = id;
        return true;
      }
    }
  }

private:
  static constexpr std::int64_t empty = std::numeric_limits<std::int64_t>::min();
  std::vector<std::int64_t> slots_;
  bool has_empty_ = false;
};

} // namespace taskpipe
