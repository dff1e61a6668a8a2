// Request bodies held against the front's budget of body bytes in flight
// (--max-body-bytes-in-flight): a body's bytes count from the moment they are expected (its
// Content-Length, or each chunk as it arrives) until the body is dropped, which the handlers do
// as soon as it is decoded. A Beast body type, so the parser charges the budget as it reads.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <cstdint>
#include <new>
#include <string>
#include <utility>

namespace taskpipe::http {

/// The budget: at most `limit` bytes held at once, across all connections (lock-free).
class body_budget {
public:
  /// `used` is where the bytes held are counted (a gauge of /metrics).
  body_budget(std::atomic<std::uint64_t>& used, std::uint64_t limit) : used_(used), limit_(limit) {
  }

  std::uint64_t limit() const {
    return limit_;
  }

  bool try_take(std::uint64_t n) {
    auto used = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ - used)
        return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }

  void give_back(std::uint64_t n) {
    used_.fetch_sub(n, std::memory_order_relaxed);
  }

private:
  std::atomic<std::uint64_t>& used_;
  std::uint64_t limit_;
};

/// The bytes one body holds of a budget; given back when the lease is dropped.
class body_lease {
public:
  body_lease() = default;
  explicit body_lease(body_budget& budget) : budget_(&budget) {
  }
  body_lease(body_lease&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), held_(std::exchange(other.held_, 0)) {
  }
  body_lease& operator=(body_lease&& other) noexcept {
    if (this != &other) {
      release();
      budget_ = std::exchange(other.budget_, nullptr);
      held_ = std::exchange(other.held_, 0);
    }
    return *this;
  }
  ~body_lease() {
    release();
  }

  /// Holds at least `total` bytes; false (holding what it held) when the budget has no room.
  bool hold(std::uint64_t total) {
    if (budget_ == nullptr || total <= held_)
      return true;
    if (!budget_->try_take(total - held_))
      return false;
    held_ = total;
    return true;
  }

  void release() {
    if (budget_ != nullptr && held_ > 0)
      budget_->give_back(held_);
    held_ = 0;
  }

private:
  body_budget* budget_ = nullptr;
  std::uint64_t held_ = 0;
};

/// A request body: its bytes and what they hold of the budget.
struct request_body {
  std::string text;
  body_lease lease;

  /// Frees the bytes and gives them back to the budget. (Assigning an empty string would keep
  /// the capacity: libstdc++ copies a short string into the existing buffer.)
  void release() {
    std::string{}.swap(text);
    lease.release();
  }
};

/// The error a read ends with when the budget has no room for the body (or memory ran out).
inline boost::system::error_code over_budget() {
  return boost::system::errc::make_error_code(boost::system::errc::not_enough_memory);
}

/// Beast's BodyReader for request_body: like string_body, but every byte is charged first.
struct budgeted_body {
  using value_type = request_body;

  class reader {
  public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {
    }

    void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
      ec = {};
      if (!length)
        return;
      if (!body_.lease.hold(*length))
        ec = over_budget();
      else
        grow(static_cast<std::size_t>(*length), ec, true);
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      auto extra = boost::beast::buffer_bytes(buffers);
      auto size = body_.text.size();
      if (!body_.lease.hold(size + extra)) {
        ec = over_budget();
        return 0;
      }
      if (!grow(size + extra, ec, false))
        return 0;
      char* dest = body_.text.data() + size;
      for (auto b : boost::beast::buffers_range_ref(buffers)) {
        std::char_traits<char>::copy(dest, static_cast<const char*>(b.data()), b.size());
        dest += b.size();
      }
      return extra;
    }

    void finish(boost::beast::error_code& ec) {
      ec = {};
    }

  private:
    /// reserve (the declared length, once) or resize; running out of memory ends the read.
    bool grow(std::size_t n, boost::beast::error_code& ec, bool reserve_only) {
      try {
        if (reserve_only)
          body_.text.reserve(n);
        else
          body_.text.resize(n);
        return true;
      } catch (const std::bad_alloc&) {
        ec = over_budget();
      } catch (const std::length_error&) {
        ec = over_budget();
      }
      return false;
    }

    value_type& body_;
  };
};

} // namespace taskpipe::http
