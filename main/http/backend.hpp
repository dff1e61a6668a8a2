// What the HTTP front asks of the node, as plain callbacks: no CAF and no Asio types here, so the
// server can be tested against a fake and the actor side against a fake coordinator.
#pragma once

#include "messages/outcome.hpp"
#include "messages/report.hpp"
#include "messages/task.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace taskpipe::http {

struct backend_reply {
  enum class kind : std::uint8_t {
    ok,       ///< `report` (batch calls) or `task` (get_task) holds the answer
    refused,  ///< the coordinator refused: `why` and `detail`
    failed,   ///< no answer (actor gone, timeout, bug): `detail` says what happened
  };
  kind what = kind::failed;
  batch_report report;
  stored_task task;  ///< id 0: no such task
  refusal why = refusal::shutting_down;
  std::string detail;
};

/// Called exactly once per request, on whatever thread the answer arrives on (a CAF thread for
/// the actor backend): it must not block and must not touch sockets; the server posts the reply
/// to the connection's executor.
using reply_fn = std::function<void(backend_reply)>;

class backend {
public:
  virtual ~backend() = default;

  /// Admits a batch; with `wait` answers with the final report, else at once with the running
  /// status (batch_id set).
  virtual void submit(batch_request req, bool wait, reply_fn done) = 0;

  /// The status of a batch by its id text.
  virtual void status(std::string batch_id, reply_fn done) = 0;

  /// Cancels a batch and answers its status.
  virtual void cancel(std::string batch_id, reply_fn done) = 0;

  /// A stored task (reply.task.id == 0 when absent).
  virtual void get_task(std::int64_t id, reply_fn done) = 0;
};

} // namespace taskpipe::http
