// Running coroutines in unit tests: a test never hangs, it fails when its deadline passes.
//
// Beware of g++ 12: a temporary made by brace initialization (`f(T{})`, `f({a, b})`, a `= {}`
// default argument) or by a conditional operator inside a co_await expression is destroyed twice.
// Name such values before the co_await.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

// Lets REQUIRE(r) / CHECK_FALSE(r) take a boost::system::result directly (its own operator<< does
// not compile for values that cannot be printed) and shows the error when the check fails.
namespace Catch {
template <class T, class E>
struct StringMaker<boost::system::result<T, E>> {
  static std::string convert(const boost::system::result<T, E>& r) {
    if (r.has_value()) return "{value}";
    if constexpr (std::is_same_v<E, boost::system::error_code>)
      return "{error " + r.error().to_string() + " \"" + r.error().message() + "\"}";
    else if constexpr (std::is_convertible_v<E, std::string>)
      return "{error \"" + std::string(r.error()) + "\"}";
    else
      return "{error}";
  }
};
}  // namespace Catch

namespace respaldo::test {

namespace detail {

template <class T>
struct outcome {
  bool done = false;
  std::exception_ptr error;
  std::optional<T> value;
};

template <>
struct outcome<void> {
  bool done = false;
  std::exception_ptr error;
};

// Runs `io` until `state->done` or the deadline; other work (e.g. in-test servers) keeps running
// meanwhile and stays pending afterwards, to be destroyed with the io_context.
template <class T>
void run_until_done(boost::asio::io_context& io, const std::shared_ptr<outcome<T>>& state,
                    std::chrono::steady_clock::duration limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!state->done && std::chrono::steady_clock::now() < until) {
    if (io.stopped()) io.restart();
    io.run_one_until(until);
  }
  if (!state->done) {
    io.stop();
    FAIL("the operation did not finish within "
         << std::chrono::duration_cast<std::chrono::milliseconds>(limit).count() << " ms");
  }
  if (state->error) std::rethrow_exception(state->error);
}

}  // namespace detail

// co_spawns `op` on `io`, runs the io_context until it finishes and returns its value; an
// exception thrown by the coroutine (a failed REQUIRE included) is rethrown here.
template <class T>
T run_with_deadline(boost::asio::io_context& io, boost::asio::awaitable<T> op,
                    std::chrono::steady_clock::duration limit = std::chrono::seconds(10)) {
  auto state = std::make_shared<detail::outcome<T>>();
  // The handler holds the state by shared_ptr: after a missed deadline it may never run, or run
  // late, and must not touch this stack frame.
  auto on_done = [state](std::exception_ptr e, T v) {
    state->error = e;
    if (!e) state->value.emplace(std::move(v));
    state->done = true;
  };
  boost::asio::co_spawn(io, std::move(op), on_done);
  detail::run_until_done(io, state, limit);
  return std::move(*state->value);
}

inline void run_with_deadline(
    boost::asio::io_context& io, boost::asio::awaitable<void> op,
    std::chrono::steady_clock::duration limit = std::chrono::seconds(10)) {
  auto state = std::make_shared<detail::outcome<void>>();
  auto on_done = [state](std::exception_ptr e) {
    state->error = e;
    state->done = true;
  };
  boost::asio::co_spawn(io, std::move(op), on_done);
  detail::run_until_done(io, state, limit);
}

}  // namespace respaldo::test
