#include "respaldo/notify/delivery_loop.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/http/client/exchange.hpp"
#include "respaldo/notify/formats.hpp"
#include "respaldo/notify/outbox.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t batch = 32;

// What one attempt got back: a status (0 when no answer came) and an error for the row.
struct attempt_result {
  unsigned status = 0;
  std::string error;
};

}  // namespace

struct delivery_loop::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, store& d, token_seal& s, http_client& c, logger& l, metrics& m,
       delivery_options o)
      : ex(std::move(e)), db(d), seals(s), client(c), log(l), stats(m), opts(o), timer(ex) {}

  asio::any_io_executor ex;
  store& db;
  token_seal& seals;
  http_client& client;
  logger& log;
  metrics& stats;
  delivery_options opts;
  asio::steady_timer timer;
  bool stopping = false;
  bool woken = false;
  std::mt19937_64 rng{std::random_device{}()};

  asio::awaitable<attempt_result> send(const notify_request& r) {
    auto url = parse_http_url(r.url);
    if (!url)
      co_return attempt_result{0, "the notifier's URL is not usable: " + url.error().message};
    http_client_request req;
    req.method = "POST";
    req.target = url->target;
    req.headers.push_back({"Content-Type", r.content_type});
    for (const auto& h : r.headers) req.headers.push_back({h.name, h.value});
    req.body = r.body;
    // The deadline cancels the exchange through its slot, whichever step it is in. Its state is
    // shared: a deadline handler already queued may run after this frame is gone.
    struct deadline_state {
      asio::cancellation_signal cancel;
      bool expired = false;
    };
    auto state = std::make_shared<deadline_state>();
    exchange_options xo;
    xo.body_limit = opts.body_limit;
    xo.cancel = state->cancel.slot();
    asio::steady_timer deadline(ex, opts.timeout);
    auto on_deadline = [state](const boost::system::error_code& ec) {
      if (ec || state->expired) return;  // the exchange ended first
      state->expired = true;
      state->cancel.emit(asio::cancellation_type::terminal);
    };
    deadline.async_wait(on_deadline);
    auto answer = co_await http_send(client, url->origin, req, xo);
    std::string body;
    if (answer) {
      // The status decides: a body over the limit is left unread (the connection is closed
      // then), never a reason to send again.
      auto read = co_await answer->conn->read_body_all(opts.body_limit);
      if (read) {
        body = std::move(*read);
        client.release(std::move(answer->conn));
      }
    }
    deadline.cancel();
    if (state->expired)
      co_return attempt_result{0,
                               "no answer within " + std::to_string(opts.timeout.count()) + "ms"};
    state->expired = true;  // a late deadline handler does nothing
    if (!answer) co_return attempt_result{0, answer.error().message};
    attempt_result out{answer->head.status, {}};
    if (judge_answer(out.status) != answer_verdict::delivered)
      out.error = "answered " + std::to_string(out.status) +
                  (body.empty() ? "" : ": " + printable_excerpt(body, 200));
    co_return out;
  }

  // The notifier disappeared, was disabled, or its URL no longer opens: the row cannot be sent.
  void give_up(delivery_record& d, std::string why) {
    d.state = delivery_state::failed;
    d.last_error = std::move(why);
    (void)db.update_delivery(d);
    stats.add("respaldo_notifications_total", 1, {{"notifier", d.notifier}, {"outcome", "failed"}});
  }

  void disable(notifier_record n, const delivery_record& d) {
    n.enabled = false;
    n.disabled_reason = "the receiver answered 410 Gone to delivery " + d.id;
    n.sealed_url.clear();  // keep the stored sealed values
    n.sealed_secret.clear();
    (void)db.update_notifier(n, false);
    log.warn("notifier disabled: its receiver answered 410", {{"notifier", n.name}});
  }

  void record(delivery_record& d, const notifier_record& n, const attempt_result& r) {
    const auto now = notify_now();
    d.attempts += 1;
    d.last_attempt_at = now;
    d.last_status = static_cast<int>(r.status);
    d.last_error = r.error;
    std::string outcome = "delivered";
    switch (judge_answer(r.status)) {
      case answer_verdict::delivered:
        d.state = delivery_state::delivered;
        break;
      case answer_verdict::disable:
        d.state = delivery_state::failed;
        outcome = "failed";
        disable(n, d);
        break;
      case answer_verdict::retry: {
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        auto next = next_delivery_attempt(opts.retry, d.created_at, now, d.attempts, unit(rng));
        d.state = next ? delivery_state::pending : delivery_state::failed;
        if (next) d.next_attempt_at = *next;
        outcome = next ? "retried" : "failed";
        log.warn("notification not delivered", {{"notifier", d.notifier},
                                                {"delivery", d.id},
                                                {"attempt", d.attempts},
                                                {"error", d.last_error},
                                                {"gave_up", !next}});
        break;
      }
    }
    if (auto saved = db.update_delivery(d); !saved)
      log.error("could not record a notification attempt", {{"delivery", d.id}});
    stats.add("respaldo_notifications_total", 1, {{"notifier", d.notifier}, {"outcome", outcome}});
    if (d.state != delivery_state::pending)
      (void)db.prune_deliveries(d.notifier, opts.keep_finished);
  }

  asio::awaitable<void> attempt(delivery_record d) {
    auto n = db.get_notifier(d.notifier);
    if (!n) co_return;  // store trouble: the row stays due and is tried again later
    if (!*n) co_return give_up(d, "the notifier was deleted");
    if (!(*n)->enabled) co_return give_up(d, "the notifier is disabled: " + (*n)->disabled_reason);
    auto url = seals.open(notifier_url_aad(d.notifier), (*n)->sealed_url);
    std::optional<std::string> secret = std::string();
    if (!(*n)->sealed_secret.empty())
      secret = seals.open(notifier_secret_aad(d.notifier), (*n)->sealed_secret);
    if (!url || !secret)
      co_return give_up(d,
                        "the notifier's URL or secret does not open with this secret key; "
                        "PATCH it with its URL and secret again");
    auto request = format_delivery((*n)->kind, *url, *secret, d);
    if (!request) co_return give_up(d, request.error().message);
    auto result = co_await send(*request);
    record(d, **n, result);
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    while (!stopping) {
      woken = false;
      auto due = db.due_deliveries(notify_now(), batch);
      if (due)
        for (auto& d : *due) {
          if (stopping) co_return;
          co_await attempt(std::move(d));
        }
      if (woken || (due && due->size() == batch)) continue;
      // A row still due here was left as it was (the store failed): a short pause, not a spin.
      auto wait = std::chrono::milliseconds(60'000);
      if (auto next = db.next_delivery_at(); next && *next)
        wait =
            std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(**next - notify_now()),
                       std::chrono::milliseconds(250), wait);
      else if (!next)
        wait = std::chrono::milliseconds(1000);
      timer.expires_after(wait);
      co_await timer.async_wait(nothrow);
    }
  }
};

delivery_loop::delivery_loop(asio::any_io_executor ex, store& db, token_seal& seals,
                             http_client& client, logger& log, metrics& stats,
                             delivery_options options)
    : impl_(std::make_shared<impl>(std::move(ex), db, seals, client, log, stats, options)) {
  stats.describe("respaldo_notifications_pending", metrics::kind::gauge,
                 "Notifications waiting for their next delivery attempt.");
  std::weak_ptr<impl> weak = impl_;
  stats.on_render([weak](metrics& m) {
    if (auto p = weak.lock())
      if (auto n = p->db.count_pending_deliveries())
        m.set("respaldo_notifications_pending", static_cast<double>(*n));
  });
}

delivery_loop::~delivery_loop() {
  impl_->stopping = true;
}

void delivery_loop::start() {
  auto self = impl_;
  auto loop = [self]() -> asio::awaitable<void> { co_await self->run(); };
  asio::co_spawn(impl_->ex, std::move(loop), asio::detached);
}

void delivery_loop::stop() {
  impl_->stopping = true;
  impl_->timer.cancel();
}

void delivery_loop::wake() {
  impl_->woken = true;
  impl_->timer.cancel();
}

}  // namespace respaldo
