// A child process whose stdout and stderr are read through Asio (posix::stream_descriptor), so
// the io_context never blocks on it. It runs in its own process group, which kill() ends as a
// whole (a shell and everything it started).
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "respaldo/core/error.hpp"

namespace respaldo {

// The last `capacity` bytes written to it: what a failed command said last on stderr.
class tail_buffer {
 public:
  explicit tail_buffer(std::size_t capacity) : capacity_(capacity) {}
  void append(std::string_view data);
  const std::string& text() const { return text_; }

 private:
  std::size_t capacity_;
  std::string text_;
};

struct child_spec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::vector<std::string> env;   // NAME=value entries added to (or replacing) the inherited ones
};

// How a child ended: its exit status, or the signal that killed it.
struct child_exit {
  int status = 0;  // exit status when !signaled
  int signal = 0;  // the terminating signal when signaled
  bool signaled = false;
  bool ok() const { return !signaled && status == 0; }
  std::string describe() const;  // "exit status 3", "killed by signal 9"
};

class child_process {
 public:
  // Starts the program (stdin /dev/null, stdout and stderr piped to us). A program that cannot be
  // found fails here, naming it.
  static outcome<std::unique_ptr<child_process>> spawn(boost::asio::any_io_executor ex,
                                                       const child_spec& spec,
                                                       std::size_t stderr_tail = 4096);
  ~child_process();  // kills and reaps a child still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Bytes of stdout; 0 at its end. Never throws.
  boost::asio::awaitable<outcome<std::size_t>> read_some(boost::asio::mutable_buffer buf);
  // Reads stderr until its end, keeping its tail; run it beside the stdout reader.
  boost::asio::awaitable<void> drain_stderr();
  // Waits for the child to exit (after its pipes closed) and reaps it.
  boost::asio::awaitable<child_exit> wait();
  // SIGKILL to the child's process group; idempotent.
  void kill() noexcept;
  const std::string& stderr_tail() const { return tail_.text(); }
  pid_t pid() const { return pid_; }

 private:
  child_process(boost::asio::any_io_executor ex, pid_t pid, int out_fd, int err_fd,
                std::size_t tail);
  boost::asio::posix::stream_descriptor out_;
  boost::asio::posix::stream_descriptor err_;
  pid_t pid_;
  bool reaped_ = false;
  bool stderr_done_ = false;
  tail_buffer tail_;
  child_exit exit_;
};

}  // namespace respaldo
