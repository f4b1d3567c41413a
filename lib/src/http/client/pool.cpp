// The pool of idle connections (at most one per origin).
#include <sys/socket.h>

#include <cerrno>

#include "connection_impl.hpp"

namespace respaldo {

namespace asio = boost::asio;

namespace {

// Whether an idle connection still looks usable (a cheap non-blocking peek): not closed by the
// peer, and no unsolicited bytes waiting. On an idle TLS connection such bytes are almost always
// a close_notify alert (session tickets arrive before the first response), so both count as dead.
bool idle_socket_usable(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  return false;
}

}  // namespace

http_client::http_client(asio::any_io_executor ex, http_client_options opts,
                         std::shared_ptr<tls_context> tls)
    : ex_(std::move(ex)), opts_(std::move(opts)), tls_(std::move(tls)) {}

asio::awaitable<outcome<std::unique_ptr<http_connection>>> http_client::acquire(
    const http_origin& origin) {
  const std::string key = to_string(origin);
  std::unique_ptr<http_connection> pooled;
  std::shared_ptr<tls_context> tls;
  {
    std::lock_guard lock(mutex_);
    if (auto it = idle_.find(key); it != idle_.end()) {
      const bool fresh =
          std::chrono::steady_clock::now() - it->second.since < opts_.pool_idle_timeout;
      if (fresh) pooled = std::move(it->second.conn);
      idle_.erase(it);
    }
    if (origin.tls && !tls_) {
      auto made = make_tls_context(opts_.ca_file);
      if (!made) co_return made.error();
      tls_ = std::move(*made);
    }
    tls = tls_;
  }
  if (pooled && pooled->reusable() &&
      idle_socket_usable(pooled->impl_->lowest().socket().native_handle()))
    co_return std::move(pooled);
  pooled.reset();
  co_return co_await http_connection::connect(ex_, origin, opts_, std::move(tls));
}

void http_client::release(std::unique_ptr<http_connection> conn) {
  if (!conn) return;
  if (!conn->reusable()) {
    conn->close();
    return;
  }
  const std::string key = to_string(conn->origin());
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<http_connection>> dropped;  // closed after the lock is released
  std::lock_guard lock(mutex_);
  // Connections to origins nobody asked for again would otherwise linger until exit.
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (now - it->second.since >= opts_.pool_idle_timeout) {
      dropped.push_back(std::move(it->second.conn));
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  auto& slot = idle_[key];
  dropped.push_back(std::move(slot.conn));  // at most one idle connection per origin
  slot.conn = std::move(conn);
  slot.since = now;
}

}  // namespace respaldo
