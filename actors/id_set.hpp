// A set of task ids sized once for a batch (the coordinator marks repeated ids with it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace taskpipe {

/// Finds repeated ids in a batch of `n` ids between `lowest` and `highest`. Ids in a range of
/// at most 64 per id (a batch of consecutive ids, the usual case) get one bit each: the bitmap
/// stays in cache, where a hash set of a million ids misses it on nearly every insert (most of
/// start_batch's time at 1M tasks). Others get an open-addressing set sized once for the batch
/// (a node-based std::unordered_set costs a cache miss and an allocation per id).
class id_set {
public:
  id_set(std::size_t n, std::int64_t lowest, std::int64_t highest) : lowest_(lowest) {
    // The span as unsigned: highest - lowest may not fit an int64_t.
    auto span = static_cast<std::uint64_t>(highest) - static_cast<std::uint64_t>(lowest);
    if (n > 0 && span / 64 < n) {
      bits_.assign(span / 64 + 1, 0);
      return;
    }
    std::size_t size = 16;
    while (size < 2 * n)
      size *= 2;
    slots_.assign(size, empty);
  }

  /// Inserts `id` (between lowest and highest); false if it was there already.
  bool insert(std::int64_t id) {
    if (!bits_.empty()) {
      auto at = static_cast<std::uint64_t>(id) - static_cast<std::uint64_t>(lowest_);
      auto mask = std::uint64_t{1} << (at % 64);
      auto& word = bits_[at / 64];
      bool first = (word & mask) == 0;
      word |= mask;
      return first;
    }
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
  std::int64_t lowest_;
  std::vector<std::uint64_t> bits_;  ///< dense ids: bit (id - lowest_)
  std::vector<std::int64_t> slots_;  ///< sparse ids
  bool has_empty_ = false;
};

} // namespace taskpipe
