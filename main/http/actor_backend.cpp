#include "main/http/actor_backend.hpp"

#include "messages/outcome.hpp"
#include "messages/report.hpp"

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

/// What a bridge actor needs. Passed to spawn as an argument, not captured: CAF 0.17 binds a
/// reference to a null tuple when a spawned function has no arguments (UBSan reports it).
struct bridge_job {
  caf::actor_system* sys = nullptr;
  coordinator_client_actor coordinator;
  task_reader_actor store;
  reply_ptr reply;
  caf::duration timeout;
  batch_request batch;
  bool wait = true;
  std::string batch_id;
  bool cancel = false;
  bool failures = false;
  std::int64_t after = 0;
  std::uint64_t limit = 0;
  std::int64_t task_id = 0;
};

using job_ptr = std::shared_ptr<bridge_job>;

void submit_bridge(caf::event_based_actor* self, job_ptr job) {
  auto reply = job->reply;
  auto* sys = job->sys;
  // The batch is waited for without a timeout: should the coordinator die first, answer anyway
  // instead of waiting forever (and keeping the actor system from shutting down).
  self->monitor(job->coordinator);
  self->set_down_handler([self, reply](caf::down_msg&) {
    backend_reply r;
    r.what = backend_reply::kind::failed;
    r.detail = "the node is no longer running";
    (*reply)(std::move(r));
    self->quit();
  });
  // Monitoring leaves an entry in the coordinator that keeps this actor's memory (its control
  // block) alive until the coordinator ends: take it back once answered, or every batch leaks one.
  auto coordinator = job->coordinator;
  auto on_report = [self, reply, coordinator](batch_report& report) {
    (*reply)(from_report(report));
    self->demonitor(coordinator.address());
    self->quit();
  };
  auto on_error = [self, sys, reply, coordinator](caf::error& err) {
    (*reply)(from_error(*sys, err));
    self->demonitor(coordinator.address());
    self->quit();
  };
  if (job->wait)
    self->request(job->coordinator, caf::infinite, submit_atom_v, std::move(job->batch))
      .then(on_report, on_error);
  else
    self->request(job->coordinator, caf::infinite, start_atom_v, std::move(job->batch))
      .then(on_report, on_error);
}

void batch_bridge(caf::event_based_actor* self, job_ptr job) {
  auto reply = job->reply;
  auto* sys = job->sys;
  auto on_report = [reply](batch_report& report) { (*reply)(from_report(report)); };
  auto on_error = [sys, reply](caf::error& err) { (*reply)(from_error(*sys, err)); };
  if (job->failures)
    self->request(job->coordinator, job->timeout, failures_atom_v, job->batch_id, job->after,
                  job->limit)
      .then(
        [reply](failure_page& page) {
          backend_reply r;
          r.what = backend_reply::kind::ok;
          r.page = std::move(page);
          (*reply)(std::move(r));
        },
        on_error);
  else if (job->cancel)
    self->request(job->coordinator, job->timeout, cancel_atom_v, job->batch_id)
      .then(on_report, on_error);
  else
    self->request(job->coordinator, job->timeout, status_atom_v, job->batch_id)
      .then(on_report, on_error);
}

void task_bridge(caf::event_based_actor* self, job_ptr job) {
  auto reply = job->reply;
  auto* sys = job->sys;
  self->request(job->store, job->timeout, get_atom_v, job->task_id)
    .then(
      [reply](stored_task& task) {
        backend_reply r;
        r.what = backend_reply::kind::ok;
        r.task = std::move(task);
        (*reply)(std::move(r));
      },
      [sys, reply](caf::error& err) { (*reply)(from_error(*sys, err)); });
}

using drain_fn = std::function<void(bool, std::string)>;

void drain_bridge(caf::event_based_actor* self, coordinator_client_actor coordinator,
                  std::shared_ptr<drain_fn> fn) {
  auto* sys = &self->system();
  self->request(coordinator, caf::infinite, drain_atom_v)
    .then([fn](done_atom) { (*fn)(true, {}); },
          [sys, fn](caf::error& err) { (*fn)(false, sys->render(err)); });
}

class actor_backend final : public backend {
public:
  actor_backend(caf::actor_system& sys, coordinator_client_actor coordinator, task_reader_actor store,
                std::chrono::milliseconds query_timeout)
    : sys_(sys),
      coordinator_(std::move(coordinator)),
      store_(std::move(store)),
      query_timeout_(query_timeout) {
  }

  void submit(batch_request req, bool wait, reply_fn done) override {
    auto job = make_job(std::move(done));
    job->batch = std::move(req);
    job->wait = wait;
    sys_.spawn(submit_bridge, std::move(job));
  }

  void status(std::string batch_id, reply_fn done) override {
    auto job = make_job(std::move(done));
    job->batch_id = std::move(batch_id);
    sys_.spawn(batch_bridge, std::move(job));
  }

  void failures(std::string batch_id, std::int64_t after, std::uint64_t limit,
                reply_fn done) override {
    auto job = make_job(std::move(done));
    job->batch_id = std::move(batch_id);
    job->failures = true;
    job->after = after;
    job->limit = limit;
    sys_.spawn(batch_bridge, std::move(job));
  }

  void cancel(std::string batch_id, reply_fn done) override {
    auto job = make_job(std::move(done));
    job->batch_id = std::move(batch_id);
    job->cancel = true;
    sys_.spawn(batch_bridge, std::move(job));
  }

  void get_task(std::int64_t id, reply_fn done) override {
    auto job = make_job(std::move(done));
    job->task_id = id;
    sys_.spawn(task_bridge, std::move(job));
  }

private:
  job_ptr make_job(reply_fn done) {
    auto job = std::make_shared<bridge_job>();
    job->sys = &sys_;
    job->coordinator = coordinator_;
    job->store = store_;
    job->reply = std::make_shared<reply_once>(std::move(done));
    job->timeout = caf::duration{query_timeout_};
    return job;
  }

  caf::actor_system& sys_;
  coordinator_client_actor coordinator_;
  task_reader_actor store_;
  std::chrono::milliseconds query_timeout_;
};

} // namespace

std::unique_ptr<backend> make_actor_backend(caf::actor_system& sys, coordinator_client_actor coordinator,
                                            task_reader_actor store,
                                            std::chrono::milliseconds query_timeout) {
  return std::make_unique<actor_backend>(sys, std::move(coordinator), std::move(store),
                                         query_timeout);
}

void request_drain(caf::actor_system& sys, const coordinator_client_actor& coordinator,
                   std::function<void(bool ok, std::string why)> done) {
  sys.spawn(drain_bridge, coordinator, std::make_shared<drain_fn>(std::move(done)));
}

} // namespace taskpipe::http
