// Runs a blocking call (file I/O, fsync) on a thread pool and resumes the calling coroutine on
// its own executor, so the io_context never waits for the disk.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace respaldo {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> run_blocking(boost::asio::thread_pool& pool, F f) {
  using result_type = std::invoke_result_t<F>;
  auto task = [f = std::move(f)]() mutable -> boost::asio::awaitable<result_type> {
    co_return f();
  };
  co_return co_await boost::asio::co_spawn(pool, std::move(task), boost::asio::use_awaitable);
}

}  // namespace respaldo
