#include "respaldo/agent/child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>

#include "respaldo/core/file_io.hpp"

extern char** environ;

namespace respaldo {

namespace asio = boost::asio;

void tail_buffer::append(std::string_view data) {
  if (data.size() >= capacity_) {
    text_.assign(data.substr(data.size() - capacity_));
    return;
  }
  text_ += data;
  if (text_.size() > capacity_) text_.erase(0, text_.size() - capacity_);
}

std::string child_exit::describe() const {
  if (signaled) return "killed by signal " + std::to_string(signal);
  return "exit status " + std::to_string(status);
}

namespace {

// The inherited environment with `extra` entries replacing variables of the same name.
std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (const auto& x : extra)
      if (x.compare(0, name.size(), name) == 0) replaced = true;
    if (!replaced) out.emplace_back(entry);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

struct spawn_setup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  spawn_setup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_setup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
};

// Own process group (so kill() reaches the whole tree), default signal dispositions and an
// empty mask, whatever the agent itself has set.
void configure(spawn_setup& s, int out_w, int err_w) {
  posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&s.actions, out_w, 1);
  posix_spawn_file_actions_adddup2(&s.actions, err_w, 2);
  // Asio's sockets are not close-on-exec: without this the command would inherit the listening
  // socket and respaldo's connections, and keep them open after the agent died.
  posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setsigdefault(&s.attr, &defaults);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setflags(
      &s.attr,
      static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
}

}  // namespace

child_process::child_process(asio::any_io_executor ex, pid_t pid, int out_fd, int err_fd,
                             std::size_t tail)
    : out_(ex, out_fd), err_(ex, err_fd), pid_(pid), tail_(tail) {}

outcome<std::unique_ptr<child_process>> child_process::spawn(asio::any_io_executor ex,
                                                             const child_spec& spec,
                                                             std::size_t stderr_tail) {
  if (spec.argv.empty()) return failure{errc::invalid_argument, "no program to run"};
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  if (::pipe2(out.data(), O_CLOEXEC) != 0) return errno_failure(errno, "cannot create a pipe");
  if (::pipe2(err.data(), O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    return errno_failure(e, "cannot create a pipe");
  }
  spawn_setup setup;
  configure(setup, out[1], err[1]);
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const auto env_strings = merged_environment(spec.env);
  std::vector<char*> envp;
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc =
      ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return failure{errc::export_command_failed,
                   "cannot run " + spec.argv[0] + ": " + std::strerror(rc)};
  }
  return std::unique_ptr<child_process>(new child_process(ex, pid, out[0], err[0], stderr_tail));
}

child_process::~child_process() {
  if (reaped_) return;
  kill();
  int status = 0;
  // SIGKILL cannot be caught: the wait is short.
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

asio::awaitable<outcome<std::size_t>> child_process::read_some(asio::mutable_buffer buf) {
  auto [ec, n] = co_await out_.async_read_some(buf, asio::as_tuple(asio::use_awaitable));
  if (ec == asio::error::eof) co_return std::size_t{0};
  if (ec) co_return failure{ec, "reading the command's output: " + ec.message()};
  co_return n;
}

asio::awaitable<void> child_process::drain_stderr() {
  std::array<char, 4096> buf{};
  while (true) {
    auto [ec, n] =
        co_await err_.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (n > 0) tail_.append(std::string_view(buf.data(), n));
    if (ec) break;
  }
  stderr_done_ = true;
}

asio::awaitable<child_exit> child_process::wait() {
  asio::steady_timer timer(out_.get_executor());
  auto delay = std::chrono::milliseconds(2);
  while (!reaped_) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      exit_.signaled = WIFSIGNALED(status);
      exit_.signal = exit_.signaled ? WTERMSIG(status) : 0;
      exit_.status = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
      break;
    }
    if (r < 0 && errno != EINTR) {
      reaped_ = true;
      exit_.signaled = true;
      break;
    }
    // The pipes have closed, so the exit is imminent: poll briefly instead of a SIGCHLD handler.
    timer.expires_after(delay);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
  co_return exit_;
}

void child_process::kill() noexcept {
  if (!reaped_) ::kill(-pid_, SIGKILL);
}

}  // namespace respaldo
