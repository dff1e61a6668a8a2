// The listener: binds, accepts, and hands every connection to a session on its own strand.
#include "main/http/server.hpp"

#include "main/log.hpp"

#include <fmt/format.h>

#include "main/http/front_state.hpp"
#include "main/http/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <iostream>
#include <stdexcept>
#include <system_error>

#include <sys/resource.h>
#include <unistd.h>

namespace taskpipe::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<void> accept_loop(front_state* st) {
  asio::steady_timer backoff{st->ioc};
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await st->acceptor.async_accept(
      asio::make_strand(st->ioc), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !st->acceptor.is_open())
        co_return;
      // Out of file descriptors and the like: wait a bit instead of spinning.
      backoff.expires_after(std::chrono::milliseconds{50});
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay{true}, ec);
    auto ex = socket.get_executor();
    // Counted here, not when the session starts: connections accepted meanwhile see the count.
    auto& open = st->counters.connections_open;
    if (open.load(std::memory_order_relaxed) >= st->opts.max_connections) {
      st->counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(ex, refuse_connection(st, std::move(socket)), asio::detached);
      continue;
    }
    open.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(ex, session(st, std::move(socket)), asio::detached);
  }
}

} // namespace

server::server(backend& be, std::shared_ptr<const pipeline_metrics> metrics, server_options opts)
  : state_(std::make_shared<front_state>(be, std::move(metrics), std::move(opts))) {
  if (state_->opts.threads == 0)
    state_->opts.threads = 1;
}

server::~server() {
  stop();
}

void server::start() {
  auto& st = *state_;
  if (st.started.exchange(true))
    return;
  tcp::resolver resolver{st.ioc};
  boost::system::error_code ec;
  auto results = resolver.resolve(st.opts.host, std::to_string(st.opts.port),
                                  tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot resolve " + st.opts.host + ": "
                             + (ec ? ec.message() : std::string{"no address"}));
  auto endpoint = results.begin()->endpoint();
  auto where = [&] {
    return st.opts.host + ":" + std::to_string(st.opts.port);
  };
  st.acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    st.acceptor.set_option(asio::socket_base::reuse_address{true}, ec);
  if (!ec)
    st.acceptor.bind(endpoint, ec);
  if (!ec)
    st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::system_error(ec, "cannot listen on " + where());
  auto local = st.acceptor.local_endpoint();
  st.port = local.port();
  auto addr = local.address();
  st.address = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  st.work.emplace(st.ioc.get_executor());
  st.workers_work.emplace(st.workers.get_executor());
  asio::co_spawn(st.ioc, accept_loop(&st), asio::detached);
  auto run = [](asio::io_context& ioc, const char* what) {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        log::error("http", fmt::format("{} error: {}", what, e.what()));
      }
    }
  };
  for (std::size_t i = 0; i < st.opts.threads; ++i)
    st.threads.emplace_back([s = state_, run] { run(s->ioc, "HTTP thread"); });
  for (std::size_t i = 0; i < std::max<std::size_t>(1, st.opts.worker_threads); ++i)
    st.worker_threads.emplace_back([s = state_, run] {
      // Nice 10: bulk work yields the CPU to the I/O threads and the pipeline.
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
      run(s->workers, "HTTP worker");
    });
}

void server::set_stats_feed(std::shared_ptr<stats_feed> feed) {
  state_->stats = std::move(feed);
}

std::string server::address() const {
  return state_->address + ":" + std::to_string(state_->port);
}

std::uint16_t server::port() const {
  return state_->port;
}

void server::begin_drain() {
  state_->draining.store(true);
}

bool server::draining() const {
  return state_->draining.load();
}

const http_counters& server::counters() const {
  return state_->counters;
}

void server::stop(std::chrono::milliseconds grace) {
  auto& st = *state_;
  if (!st.started.load() || st.stopped.exchange(true))
    return;
  asio::post(st.ioc, [s = &st] {
    boost::system::error_code ec;
    s->acceptor.close(ec);
  });
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (st.counters.requests_in_progress.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  st.work.reset();
  st.ioc.stop();
  for (auto& t : st.threads)
    if (t.joinable())
      t.join();
  st.threads.clear();
  // Jobs still running finish (their results are never delivered); queued ones are dropped.
  st.workers_work.reset();
  st.workers.stop();
  for (auto& t : st.worker_threads)
    if (t.joinable())
      t.join();
  st.worker_threads.clear();
}

} // namespace taskpipe::http
