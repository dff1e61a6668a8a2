#include "main/http/actor_backend.hpp"

#include "messages/registry.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <atomic>
#include <utility>

namespace taskpipe::http {

namespace {

/// Calls the callback exactly once: with the answer, or, if the bridge actor goes away without
/// one (it should not), with a failure from the destructor.
class reply_once {
public:
  explicit reply_once(reply_fn fn) : fn_(std::move(fn)) {
  }

  reply_once(const reply_once&) = delete;
  reply_once& operator=(const reply_once&) = delete;

  ~reply_once() {
    if (!called_.exchange(true)) {
      backend_reply r;
      r.what = backend_reply::kind::failed;
      r.detail = "the request got no answer";
      fn_(std::move(r));
    }
  }

  void operator()(backend_reply r) {
    if (!called_.exchange(true))
      fn_(std::move(r));
  }

private:
  reply_fn fn_;
  std::atomic<bool> called_{false};
};

using reply_ptr = std::shared_ptr<reply_once>;

backend_reply from_error(caf::actor_system& sys, const caf::error& err) {
  backend_reply r;
  refusal why;
  if (as_refusal(err, why)) {
    r.what = backend_reply::kind::refused;
    r.why = why;
    auto& ctx = err.context();
    if (ctx.match_elements<std::string>())
      r.detail = ctx.get_as<std::string>(0);
    else
      r.detail = to_string(why);
    return r;
  }
  r.what = backend_reply::kind::failed;
  if (err == caf::sec::request_timeout)
    r.detail = "the node did not answer in time";
  else if (err == caf::sec::request_receiver_down)
    r.detail = "the node is no longer running";
  else
    r.detail = sys.render(err);
  return r;
}

backend_reply from_report(batch_report& report) {
  backend_reply r;
  r.what = backend_reply::kind::ok;
  r.report = std::move(report);
  return r;
}

class actor_backend final : public backend {
public:
  actor_backend(caf::actor_system& sys, coordinator_actor coordinator, store_actor store,
                std::chrono::milliseconds query_timeout)
    : sys_(sys),
      coordinator_(std::move(coordinator)),
      store_(std::move(store)),
      query_timeout_(query_timeout) {
  }

  void submit(batch_request req, bool wait, reply_fn done) override {
    auto reply = std::make_shared<reply_once>(std::move(done));
    auto payload = std::make_shared<batch_request>(std::move(req));
    auto& sys = sys_;
    sys_.spawn([&sys, coordinator = coordinator_, payload, reply, wait](caf::event_based_actor* self) {
      auto on_report = [reply](batch_report& report) { (*reply)(from_report(report)); };
      auto on_error = [&sys, reply](caf::error& err) { (*reply)(from_error(sys, err)); };
      if (wait)
        self->request(coordinator, caf::infinite, submit_atom::value, std::move(*payload))
          .then(on_report, on_error);
      else
        self->request(coordinator, caf::infinite, start_atom::value, std::move(*payload))
          .then(on_report, on_error);
    });
  }

  void status(std::string batch_id, reply_fn done) override {
    ask_batch<status_atom>(std::move(batch_id), std::move(done));
  }

  void cancel(std::string batch_id, reply_fn done) override {
    ask_batch<cancel_atom>(std::move(batch_id), std::move(done));
  }

  void get_task(std::int64_t id, reply_fn done) override {
    auto reply = std::make_shared<reply_once>(std::move(done));
    auto& sys = sys_;
    sys_.spawn([&sys, store = store_, id, reply,
                timeout = query_timeout_](caf::event_based_actor* self) {
      self->request(store, timeout, caf::get_atom::value, id)
        .then(
          [reply](stored_task& task) {
            backend_reply r;
            r.what = backend_reply::kind::ok;
            r.task = std::move(task);
            (*reply)(std::move(r));
          },
          [&sys, reply](caf::error& err) { (*reply)(from_error(sys, err)); });
    });
  }

private:
  template <class Atom>
  void ask_batch(std::string batch_id, reply_fn done) {
    auto reply = std::make_shared<reply_once>(std::move(done));
    auto& sys = sys_;
    sys_.spawn([&sys, coordinator = coordinator_, id = std::move(batch_id), reply,
                timeout = query_timeout_](caf::event_based_actor* self) {
      self->request(coordinator, timeout, Atom::value, id)
        .then([reply](batch_report& report) { (*reply)(from_report(report)); },
              [&sys, reply](caf::error& err) { (*reply)(from_error(sys, err)); });
    });
  }

  caf::actor_system& sys_;
  coordinator_actor coordinator_;
  store_actor store_;
  std::chrono::milliseconds query_timeout_;
};

} // namespace

std::unique_ptr<backend> make_actor_backend(caf::actor_system& sys, coordinator_actor coordinator,
                                            store_actor store,
                                            std::chrono::milliseconds query_timeout) {
  return std::make_unique<actor_backend>(sys, std::move(coordinator), std::move(store),
                                         query_timeout);
}

void request_drain(caf::actor_system& sys, const coordinator_actor& coordinator,
                   std::function<void(bool ok, std::string why)> done) {
  auto fn = std::make_shared<std::function<void(bool, std::string)>>(std::move(done));
  sys.spawn([&sys, coordinator, fn](caf::event_based_actor* self) {
    self->request(coordinator, caf::infinite, drain_atom::value)
      .then([fn](done_atom) { (*fn)(true, {}); },
            [&sys, fn](caf::error& err) { (*fn)(false, sys.render(err)); });
  });
}

} // namespace taskpipe::http
