// The coordinator's finished-batch bookkeeping: what it answers about batches (statuses, finished
// reports rendered once and shared, pages of failures), the bounded cache of finished reports,
// reading reports back from the store, and the dashboard's overview (coordinator_state.hpp).
#include "actors/coordinator_state.hpp"

#include "store/task_store.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace taskpipe::coordination {

namespace {

batch_state state_of(const batch_record& b) {
  return b.cancelled ? batch_state::cancelled
         : b.pending() == 0 ? batch_state::done
                            : batch_state::running;
}

/// The batch's report without its failures.
batch_report report_header(coordinator_pointer self, const batch_record& b) {
  batch_report r;
  r.batch_id = batch_id_text(b.id);
  r.state = state_of(b);
  r.total = b.total;
  r.succeeded = b.succeeded;
  r.failed = b.failed;
  r.pending = b.pending();
  auto end = b.complete ? b.finished : self->clock().now();
  r.elapsed_ms = std::chrono::duration<double, std::milli>(end - b.started).count();
  return r;
}

/// The store's error for batch `id`: not_found is an unknown batch (or an expired one).
caf::error store_refusal(const caf::error& err, std::uint64_t id) {
  if (code_of(err) == failure_code::not_found)
    return unknown_batch(batch_id_text(id));
  return err;
}

/// Drops the Idempotency-Key of batch `id` from memory, if it still names that batch.
void forget_key(coordinator_pointer self, const std::string& key, std::uint64_t id) {
  auto& keys = self->state.keys;
  if (auto i = keys.find(key); i != keys.end() && i->second == id)
    keys.erase(i);
}

/// The page of `r`'s failures after `after` (shared: the page is a range of the report).
failure_page page_of(const shared_report& r, std::int64_t after, std::size_t limit) {
  auto range = r->page(after, limit);
  failure_page p;
  p.batch_id = r->batch_id;
  p.report = r;
  p.first = range.first;
  p.last = range.last;
  p.more = range.more;
  p.next = range.next;
  return p;
}

/// A complete batch whose outcome is recorded: answers its waiters (each gets the shared
/// report), moves its report to the cache, forgets its record and lets a drain finish.
void answer_batch(coordinator_pointer self, batch_record& b) {
  auto& st = self->state;
  b.answered = true;
  --st.running;
  auto report = finished_answer(b.rendered);
  for (auto& w : b.waiters)
    w.deliver(report);
  for (auto& [promise, after, limit] : b.page_waiters)
    promise.deliver(page_of(b.rendered, after, limit));
  finished_entry entry{b.rendered, {}, {}};
  if (!b.idempotency_key.empty()) {
    if (st.cfg.journal) { // the store answers for the key from now on
      forget_key(self, b.idempotency_key, b.id);
    } else {
      entry.idempotency_key = b.idempotency_key;
      entry.body_digest = b.body_digest;
    }
  }
  auto id = b.id;
  st.batches.erase(id);
  st.reports.insert(id, std::move(entry), unix_now_ms());
  if (st.draining && st.running == 0)
    shutdown(self);
}

/// Answers the batch `id` once its outcome is recorded (or could not be: the report stands).
void answer_recorded(coordinator_pointer self, std::uint64_t id) {
  auto i = self->state.batches.find(id);
  if (i != self->state.batches.end() && !i->second.answered)
    answer_batch(self, i->second);
}

/// Reads the finished report of batch `id` from the store for `promise`; requests for the same
/// batch meanwhile share the one read. The report is cached.
void load_report(coordinator_pointer self, std::uint64_t id, report_promise promise) {
  auto& waiting = self->state.loading[id];
  waiting.push_back(std::move(promise));
  if (waiting.size() > 1)
    return;
  auto take_waiters = [self, id] {
    auto& loading = self->state.loading;
    auto waiters = std::move(loading[id]);
    loading.erase(id);
    return waiters;
  };
  self->request(self->state.store, caf::infinite, report_atom_v, id)
    .then(
      [self, id, take_waiters](batch_report& r) {
        if (r.finished)
          self->state.reports.insert(id, finished_entry{r.finished, {}, {}}, unix_now_ms());
        for (auto& w : take_waiters())
          w.deliver(r);
      },
      [id, take_waiters](caf::error& err) {
        auto why = store_refusal(err, id);
        for (auto& w : take_waiters())
          w.deliver(why);
      });
}

/// A page of the failures a running batch has recorded so far (copied: they change).
failure_page running_page(const batch_record& b, std::int64_t after, std::size_t limit) {
  std::vector<const task_failure*> after_id;
  for (const auto& f : b.failures)
    if (f.id > after)
      after_id.push_back(&f);
  std::sort(after_id.begin(), after_id.end(), [](const auto* x, const auto* y) {
    return x->id != y->id ? x->id < y->id : x->index < y->index;
  });
  failure_page p;
  p.batch_id = batch_id_text(b.id);
  for (const auto* f : after_id) {
    if (p.failures.size() >= limit && f->id != p.failures.back().id) {
      p.more = true;
      p.next = p.failures.back().id;
      break;
    }
    p.failures.push_back(*f);
  }
  return p;
}

} // namespace

caf::error key_reused(const std::string& key) {
  return caf::make_error(refusal::idempotency_key_reused,
                         fmt::format("Idempotency-Key \"{}\" was sent before with another body",
                                     key));
}

caf::error unknown_batch(const std::string& text) {
  return caf::make_error(refusal::unknown_batch, fmt::format("no batch {}", text));
}

void init_reports(coordinator_pointer self) {
  auto& cfg = self->state.cfg;
  // With the journal off nothing else holds a finished report: it stays for the retention.
  auto bounds = cfg.journal ? finished_reports::limits{cfg.cached_reports,
                                                       cfg.cached_report_bytes, cfg.retention}
                            : finished_reports::limits::unbounded(cfg.retention);
  self->state.reports = finished_reports{bounds, [self](std::uint64_t id,
                                                        const finished_entry& e) {
                                           if (!e.idempotency_key.empty())
                                             forget_key(self, e.idempotency_key, id);
                                         }};
}

batch_report finished_answer(const shared_report& r) {
  auto head = report_head(*r);
  head.finished = r;
  return head;
}

void deliver_report(coordinator_pointer self, batch_record& b, report_promise& promise) {
  if (!b.complete)
    promise.deliver(report_header(self, b));
  else if (b.answered)
    promise.deliver(finished_answer(b.rendered));
  else
    b.waiters.push_back(promise);
}

void complete_batch(coordinator_pointer self, batch_record& b) {
  auto& st = self->state;
  auto head = report_header(self, b);
  head.finished_ms = unix_now_ms();
  b.rendered = render_finished(head, b.failures);  // sorts them
  if (!st.cfg.journal) {
    b.failures = {};
    return answer_batch(self, b);
  }
  // Recorded before anyone is answered, so that a restart answers the same report.
  batch_outcome o{b.id,          head.state,  head.finished_ms, head.elapsed_ms,
                  b.succeeded,   std::move(b.failures)};
  b.failures = {};
  auto id = b.id;
  self->request(st.store, caf::infinite, outcome_atom_v, std::move(o))
    .then([self, id](done_atom) { answer_recorded(self, id); },
          [self, id](caf::error&) { answer_recorded(self, id); });
}

void answer_again(coordinator_pointer self, batch_record& b, const std::string& digest, bool wait,
                  report_promise& promise) {
  if (b.body_digest != digest)
    promise.deliver(key_reused(b.idempotency_key));
  else if (!b.launched) // still being journaled (or numbered): answered once it starts
    b.early.emplace_back(promise, wait);
  else
    answer_started(self, b.id, promise, wait);
}

void answer_started(coordinator_pointer self, std::uint64_t id, report_promise& promise,
                    bool wait) {
  auto& batches = self->state.batches;
  if (auto i = batches.find(id); i != batches.end() && wait && !i->second.answered)
    i->second.waiters.push_back(promise);
  else if (!answer_held(self, id, promise))
    promise.deliver(unknown_batch(batch_id_text(id)));
}

bool answer_known_key(coordinator_pointer self, std::uint64_t id, const std::string& digest,
                      bool wait, report_promise& promise) {
  auto& st = self->state;
  if (auto i = st.batches.find(id); i != st.batches.end()) {
    answer_again(self, i->second, digest, wait, promise);
    return true;
  }
  if (const auto* e = st.reports.find(id, unix_now_ms())) {
    if (e->body_digest != digest)
      promise.deliver(key_reused(e->idempotency_key));
    else
      promise.deliver(finished_answer(e->report));
    return true;
  }
  return false;
}

void answer_stored_key(coordinator_pointer self, std::uint64_t owner, bool wait,
                       report_promise& promise) {
  if (wait) {
    if (const auto* e = self->state.reports.find(owner, unix_now_ms()))
      promise.deliver(finished_answer(e->report));
    else
      load_report(self, owner, promise);
    return;
  }
  batch_report r; // 202: its id is all the answer needs
  r.batch_id = batch_id_text(owner);
  r.state = batch_state::done;
  promise.deliver(std::move(r));
}

bool answer_held(coordinator_pointer self, std::uint64_t id, report_promise& promise) {
  auto& st = self->state;
  if (auto i = st.batches.find(id); i != st.batches.end())
    deliver_report(self, i->second, promise);
  else if (const auto* e = st.reports.find(id, unix_now_ms()))
    promise.deliver(finished_answer(e->report));
  else
    return false;
  return true;
}

caf::result<batch_report> status_of(coordinator_pointer self, const std::string& text) {
  auto& st = self->state;
  if (auto* b = find_batch(self, text)) {
    auto promise = self->make_response_promise<batch_report>();
    deliver_report(self, *b, promise);
    return promise;
  }
  std::uint64_t id = 0;
  if (!parse_batch_id(text, id))
    return unknown_batch(text);
  if (const auto* e = st.reports.find(id, unix_now_ms()))
    return finished_answer(e->report);
  if (!st.cfg.journal)
    return unknown_batch(text);
  // Finished before this node started, or no longer cached: the store keeps its report.
  auto promise = self->make_response_promise<batch_report>();
  load_report(self, id, promise);
  return promise;
}

caf::result<failure_page> failures_of(coordinator_pointer self, const std::string& text,
                                      std::int64_t after, std::uint64_t limit) {
  auto& st = self->state;
  auto n = static_cast<std::size_t>(
    std::clamp<std::uint64_t>(limit, 1, static_cast<std::uint64_t>(max_failure_page)));
  std::uint64_t id = 0;
  if (!parse_batch_id(text, id))
    return unknown_batch(text);
  if (auto* b = find_batch(self, text)) {
    if (!b->complete)
      return running_page(*b, after, n);
    // Its final report is being recorded: the page is answered from it once it is durable.
    auto promise = self->make_response_promise<failure_page>();
    b->page_waiters.emplace_back(promise, after, n);
    return promise;
  }
  if (const auto* e = st.reports.find(id, unix_now_ms()))
    return page_of(e->report, after, n);
  if (!st.cfg.journal)
    return unknown_batch(text);
  // Not cached: the store reads just this page.
  auto promise = self->make_response_promise<failure_page>();
  self->request(st.store, caf::infinite, failures_atom_v, id, after,
                static_cast<std::uint64_t>(n))
    .then([promise](failure_page& p) mutable { promise.deliver(std::move(p)); },
          [promise, id](caf::error& err) mutable { promise.deliver(store_refusal(err, id)); });
  return promise;
}

void note_failures(dashboard_book& book, const std::vector<task_failure>& failures,
                   std::size_t first) {
  for (auto i = first; i < failures.size(); ++i)
    book.by_code[static_cast<std::size_t>(failures[i].code)] += 1;
  auto keep = std::min(failures.size() - first, dashboard_book::recent_failures);
  for (auto i = failures.size() - keep; i < failures.size(); ++i)
    book.last_failures.push_back(failures[i]);
  while (book.last_failures.size() > dashboard_book::recent_failures)
    book.last_failures.pop_front();
}

coordinator_overview make_overview(coordinator_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto now_ms = unix_now_ms();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  coordinator_overview o;
  for (auto i = st.book.recent.rbegin(); i != st.book.recent.rend(); ++i) {
    if (auto found = st.batches.find(*i); found != st.batches.end()) {
      const auto& b = found->second;
      o.recent.push_back(batch_summary{b.id, state_of(b), b.total, b.succeeded, b.failed,
                                       ms(now - b.started),
                                       ms((b.complete ? b.finished : now) - b.started)});
    } else if (const auto* e = st.reports.peek(*i, now_ms)) {
      const auto& r = *e->report;
      o.recent.push_back(batch_summary{*i, r.state, r.total, r.succeeded, r.failed,
                                       static_cast<double>(now_ms - r.finished_ms)
                                         + r.elapsed_ms,
                                       r.elapsed_ms});
    }
  }
  o.accepted = st.book.accepted;
  o.in_flight = st.in_flight;
  o.running = st.running;
  o.batches_done = st.batches_done;
  o.batches_cancelled = st.batches_cancelled;
  o.failures_by_code = st.book.by_code;
  o.last_failures.assign(st.book.last_failures.rbegin(), st.book.last_failures.rend());
  o.draining = st.draining;
  return o;
}

} // namespace taskpipe::coordination
