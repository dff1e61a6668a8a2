#include "main/http/handlers.hpp"

// g++ 12 pairs Asio's coroutine-frame operator new (its recycling allocator) with the wrong delete
// once a coroutine here awaits a timer, and warns; Asio allocates and frees the frame with the
// matching pair (a known false positive of -Wmismatched-new-delete).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "api/openapi_document.hpp"

#include "main/http/batch_decoder.hpp"
#include "main/http/body_digest.hpp"
#include "main/http/dashboard_page.hpp"
#include "main/http/json_writer.hpp"
#include "main/http/request_text.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <malloc.h>
#include <cstdint>
#include <memory>
#include <exception>
#include <optional>
#include <type_traits>

namespace taskpipe::http {

namespace asio = boost::asio;

namespace {

/// After decoding a larger body, freed memory goes back to the system (see submit_batch).
constexpr std::size_t max_untrimmed_decode_bytes = 1 << 20;

/// The snapshot as GET /v1/stats answers it.
response stats_response(const std::shared_ptr<const stats_frame>& frame) {
  if (!frame)
    return error_response(bhttp::status::internal_server_error, "internal",
                          "no stats snapshot yet");
  auto r = json_response(bhttp::status::ok, frame->json);
  r.headers.emplace_back(bhttp::field::cache_control, "no-store");
  return r;
}

/// Awaits the backend's answer: `start` receives a reply_fn that may be called on any thread; the
/// answer is posted to the coroutine's executor (the connection's strand) and resumes it there.
/// A plain function taking `start` by reference and returning the awaitable: g++ 12 mishandles
/// non-trivial temporaries inside a co_await expression (destroys them twice), so callers keep
/// `start` in a named local.
/// The callback keeps the front's state (and so its io_context) alive until it has posted.
template <class Start>
asio::awaitable<backend_reply> backend_call(front_state& st, Start& start) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(backend_reply)>(
    [start = std::move(start), keep = st.shared_from_this()](auto handler) mutable {
      using handler_type = decltype(handler);
      auto ex = asio::get_associated_executor(handler);
      auto slot = std::make_shared<std::optional<handler_type>>(std::move(handler));
      start([slot, ex, keep](backend_reply r) {
        asio::post(ex, [slot, r = std::move(r)]() mutable {
          auto h = std::move(**slot);
          slot->reset();
          h(std::move(r));
        });
      });
    },
    asio::use_awaitable);
}

/// Runs `work` on the worker pool and resumes the caller (on its strand) with the result; an
/// exception `work` throws is rethrown in the caller. Called like backend_call, with a named
/// `work` (the g++ 12 co_await temporaries bug).
template <class Work>
asio::awaitable<std::invoke_result_t<Work&>> on_workers(front_state& st, Work& work) {
  using result = std::invoke_result_t<Work&>;
  return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, result)>(
    [&st, work = std::move(work)](auto handler) mutable {
      auto ex = asio::get_associated_executor(handler);
      asio::post(st.workers, [work = std::move(work), handler = std::move(handler), ex]() mutable {
        std::exception_ptr error;
        result out{};
        try {
          out = work();
        } catch (...) {
          error = std::current_exception();
        }
        asio::post(ex, [handler = std::move(handler), error, out = std::move(out)]() mutable {
          handler(error, std::move(out));
        });
      });
    },
    asio::use_awaitable);
}

response refused_or_failed(const front_state& st, const backend_reply& r) {
  if (r.what == backend_reply::kind::refused)
    return refused(st.opts, r.why, r.detail);
  return failed(st.opts, st.draining.load(), r.detail);
}

/// POST /v1/batches once its body is read.
asio::awaitable<response> submit_batch(front_state& st, const plan& p, request_body body) {
  const auto& opts = st.opts;
  auto max_tasks = static_cast<std::size_t>(
    std::min<std::uint64_t>(opts.max_batch_tasks, opts.max_in_flight));
  decode_result decoded;
  std::string digest;
  bool keyed = !p.idempotency_key.empty();
  if (body.text.size() <= max_inline_decode_bytes) {
    decoded = decode_batch(body.text, max_tasks);
    if (keyed)
      digest = body_digest(body.text);
  } else {
    auto work = [&body, &digest, keyed, max_tasks] {
      if (keyed)
        digest = body_digest(body.text);
      auto result = decode_batch(body.text, max_tasks);
      // nlohmann's lexer keeps a copy of each token (whitespace runs included) that can grow
      // as large as the body; malloc keeps such freed memory in the thread's arena unless told.
      if (body.text.size() > max_untrimmed_decode_bytes)
        ::malloc_trim(0);
      return result;
    };
    decoded = co_await on_workers(st, work);
  }
  body.release();  // the raw body is no longer needed (nor counted)
  if (decoded.status == decode_status::invalid_json)
    co_return error_response(bhttp::status::bad_request, "invalid_json", decoded.detail);
  if (decoded.status == decode_status::invalid_batch)
    co_return error_response(bhttp::status::bad_request, "invalid_batch", decoded.detail);
  auto count = static_cast<std::uint64_t>(decoded.task_count);
  if (count > opts.max_batch_tasks)
    co_return error_response(bhttp::status::payload_too_large, "batch_too_large",
                             "the batch has " + std::to_string(count)
                               + " tasks, over --max-batch-tasks="
                               + std::to_string(opts.max_batch_tasks));
  if (count > opts.max_in_flight)
    co_return error_response(bhttp::status::payload_too_large, "batch_too_large",
                             "the batch has " + std::to_string(count)
                               + " tasks, over --max-in-flight="
                               + std::to_string(opts.max_in_flight)
                               + ": it could never be admitted");
  if (st.draining.load())
    co_return shutting_down(opts);
  bool wait = p.wait;
  decoded.batch.idempotency_key = p.idempotency_key;
  decoded.batch.body_digest = std::move(digest);
  auto start = [&st, batch = std::move(decoded.batch), wait](reply_fn done) mutable {
    st.be.submit(std::move(batch), wait, std::move(done));
  };
  auto answer = co_await backend_call(st, start);
  if (answer.what != backend_reply::kind::ok)
    co_return refused_or_failed(st, answer);
  if (wait) // the report is rendered once, by the coordinator: this shares it
    co_return json_response(bhttp::status::ok, report_json(answer.report));
  auto r = json_response(bhttp::status::accepted, accepted_json(answer.report.batch_id));
  r.headers.emplace_back(bhttp::field::location, batch_url(answer.report.batch_id));
  co_return r;
}

/// 404 for a batch id the node does not know (or malformed).
response unknown_batch(const std::string& text) {
  std::uint64_t number = 0;
  if (!parse_batch_id(text, number))
    return error_response(bhttp::status::not_found, "not_found",
                          "no batch " + quoted(text) + "; batch ids look like b-0123456789abcdef");
  return error_response(bhttp::status::not_found, "not_found",
                        "no batch " + quoted(text)
                          + " (unknown, or finished longer ago than the node's --retention)");
}

/// GET and DELETE /v1/batches/{id}.
asio::awaitable<response> batch_status(front_state& st, const plan& p) {
  std::uint64_t number = 0;
  if (!parse_batch_id(p.batch_id, number))
    co_return unknown_batch(p.batch_id);
  bool cancel = p.where == route::batch_cancel;
  auto start = [&st, id = p.batch_id, cancel](reply_fn done) mutable {
    if (cancel)
      st.be.cancel(std::move(id), std::move(done));
    else
      st.be.status(std::move(id), std::move(done));
  };
  auto answer = co_await backend_call(st, start);
  if (answer.what == backend_reply::kind::refused && answer.why == refusal::unknown_batch)
    co_return unknown_batch(p.batch_id);
  if (answer.what != backend_reply::kind::ok)
    co_return refused_or_failed(st, answer);
  co_return json_response(bhttp::status::ok, status_json(answer.report));
}

/// GET /v1/batches/{id}/failures?after=ID&limit=N.
asio::awaitable<response> batch_failures(front_state& st, const plan& p) {
  std::uint64_t number = 0;
  if (!parse_batch_id(p.batch_id, number))
    co_return unknown_batch(p.batch_id);
  auto start = [&st, id = p.batch_id, after = p.after, limit = p.limit](reply_fn done) mutable {
    st.be.failures(std::move(id), after, limit, std::move(done));
  };
  auto answer = co_await backend_call(st, start);
  if (answer.what == backend_reply::kind::refused && answer.why == refusal::unknown_batch)
    co_return unknown_batch(p.batch_id);
  if (answer.what != backend_reply::kind::ok)
    co_return refused_or_failed(st, answer);
  co_return json_response(bhttp::status::ok, failures_json(answer.page));
}

/// GET /v1/tasks/{id}.
asio::awaitable<response> stored_task_of(front_state& st, const plan& p) {
  std::int64_t id = 0;
  if (!parse_task_id(p.task_text, id))
    co_return error_response(bhttp::status::not_found, "not_found",
                             "no task " + quoted(p.task_text)
                               + "; task ids are integers from 1 to 9223372036854775807");
  auto start = [&st, id](reply_fn done) { st.be.get_task(id, std::move(done)); };
  auto answer = co_await backend_call(st, start);
  if (answer.what != backend_reply::kind::ok)
    co_return refused_or_failed(st, answer);
  if (answer.task.id == 0)
    co_return error_response(bhttp::status::not_found, "not_found",
                             "task " + std::to_string(id) + " does not exist");
  co_return json_response(bhttp::status::ok, task_json(answer.task));
}

/// GET /v1/stats: the latest snapshot. The first one is published as the node starts; a request
/// that comes first waits for it (a timer, never blocking the thread).
asio::awaitable<response> latest_stats(front_state& st) {
  if (!st.stats)
    co_return error_response(bhttp::status::not_found, "not_found", "this node has no dashboard");
  if (!st.stats->latest()) {
    asio::steady_timer timer{st.ioc, std::chrono::seconds{2}};
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return stats_response(st.stats->latest());
}

/// HEAD /v1/events: the stream's header alone (GET streams in the session, event_stream.hpp).
response events_head(const front_state& st) {
  if (!st.stats)
    return error_response(bhttp::status::not_found, "not_found", "this node has no dashboard");
  response r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.headers.emplace_back(bhttp::field::cache_control, "no-store");
  return r;
}

} // namespace

asio::awaitable<response> answer(front_state& st, const plan& p, request_body body) {
  if (p.where == route::submit)
    co_return co_await submit_batch(st, p, std::move(body));
  body.release();  // other routes ignore their (small) bodies
  switch (p.where) {
    case route::submit:
      break;
    case route::batch_status:
    case route::batch_cancel:
      co_return co_await batch_status(st, p);
    case route::batch_failures:
      co_return co_await batch_failures(st, p);
    case route::task:
      co_return co_await stored_task_of(st, p);
    case route::healthz:
      if (st.draining.load())
        co_return json_response(bhttp::status::service_unavailable, "{\"status\":\"draining\"}");
      co_return json_response(bhttp::status::ok, "{\"status\":\"ok\"}");
    case route::metrics: {
      response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = render_metrics(st.metrics.get(), &st.counters);
      co_return r;
    }
    case route::openapi:
      co_return json_response(bhttp::status::ok, std::string{openapi_document()});
    case route::dashboard:
      co_return dashboard_page();
    case route::stats:
      co_return co_await latest_stats(st);
    case route::events:
      co_return events_head(st);
  }
  co_return error_response(bhttp::status::internal_server_error, "internal", "unrouted request");
}

} // namespace taskpipe::http
