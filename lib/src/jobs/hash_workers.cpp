#include "respaldo/jobs/hash_workers.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "respaldo/crypto/crypto.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;

// Runs `f` on the pool, then completes on the awaiting coroutine's executor. The work guard
// keeps that executor's io_context running until the completion is delivered.
template <class F>
asio::awaitable<void> run_on(asio::thread_pool& pool, F f) {
  auto initiate = [&pool](auto handler, F job) {
    auto work = asio::make_work_guard(asio::get_associated_executor(handler));
    auto task = [job = std::move(job), handler = std::move(handler),
                 work = std::move(work)]() mutable {
      job();
      auto home = work.get_executor();
      asio::post(home, std::move(handler));
      work.reset();
    };
    asio::post(pool, std::move(task));
  };
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      std::move(initiate), asio::use_awaitable, std::move(f));
}

}  // namespace

hash_workers::hash_workers(std::size_t threads) : threads_(threads) {
  if (threads_ > 0) pool_ = std::make_unique<asio::thread_pool>(threads_);
}

hash_workers::~hash_workers() {
  if (pool_) pool_->join();
}

std::size_t hash_workers::default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

asio::awaitable<void> hash_workers::update(sha256& hash, md5* also, asio::const_buffer data) {
  const auto* p = static_cast<const char*>(data.data());
  const std::size_t n = data.size();
  if (!pool_) {
    hash.update(p, n);
    if (also) also->update(p, n);
    co_return;
  }
  if (also && threads_ >= 2) {
    using namespace asio::experimental::awaitable_operators;
    // Named first: g++ 12 miscompiles lambdas created inside a co_await expression.
    auto sha = [&hash, p, n] { hash.update(p, n); };
    auto md = [also, p, n] { also->update(p, n); };
    auto both = run_on(*pool_, sha) && run_on(*pool_, md);
    co_await std::move(both);
    co_return;
  }
  auto all = [&hash, also, p, n] {
    hash.update(p, n);
    if (also) also->update(p, n);
  };
  co_await run_on(*pool_, all);
}

}  // namespace respaldo
