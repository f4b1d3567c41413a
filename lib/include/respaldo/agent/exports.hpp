// The agent's exports: at most one dump at a time, written by the source's command into a spool
// file while it is hashed, so that size and SHA-256 are known before the first byte is served.
// A finished dump stays downloadable (also in pieces, with Range) until one download reached its
// end or --spool-ttl passed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "respaldo/agent/config.hpp"
#include "respaldo/agent/spool.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/core/log.hpp"

namespace respaldo {

enum class export_phase { running, ready, failed };

struct export_snapshot {
  std::string id;
  export_phase phase = export_phase::running;
  std::uint64_t bytes_done = 0;
  std::uint64_t size = 0;  // ready
  std::string sha256;      // ready
  std::string error;       // failed: what the orchestrator shows in the job error
  double elapsed_seconds = 0;
};

// An open spool file; reading it stays possible after the spool was removed.
class spool_reader {
 public:
  spool_reader(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  ~spool_reader();
  spool_reader(const spool_reader&) = delete;
  spool_reader& operator=(const spool_reader&) = delete;
  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }

 private:
  int fd_;
  std::uint64_t size_;
};

class export_service {
 public:
  export_service(boost::asio::any_io_executor ex, boost::asio::thread_pool& files,
                 const agent_config& cfg, logger& log);
  ~export_service();
  export_service(const export_service&) = delete;
  export_service& operator=(const export_service&) = delete;

  // Prepares the spool dir (removing what a crashed run left) and starts the TTL sweeper.
  outcome<void> open();
  // Starts a dump, unless one is running: then `started` is false and `current` is that one.
  struct start_result {
    bool started = false;
    export_snapshot current;
  };
  start_result start();
  std::optional<export_snapshot> find(const std::string& id) const;
  // Completes when the export has ended (ready or failed), or at once for an unknown id.
  boost::asio::awaitable<void> wait_finished(const std::string& id);
  // The spool of a ready export.
  outcome<std::shared_ptr<spool_reader>> open_download(const std::string& id);
  // A download reached the end of the file: the spool is removed and the export forgotten.
  void downloaded(const std::string& id);
  const std::optional<last_run>& estimate() const { return last_; }
  boost::asio::thread_pool& files() { return files_; }
  // Kills a running dump and stops the sweeper.
  void stop();

 private:
  struct entry;
  boost::asio::awaitable<void> run(std::shared_ptr<entry> e);
  boost::asio::awaitable<outcome<void>> pump(entry& e, int fd, bool gzip);
  void finish(entry& e, outcome<void> result);
  void forget(const std::string& reason);
  boost::asio::awaitable<void> sweep();

  boost::asio::any_io_executor ex_;
  boost::asio::thread_pool& files_;
  const agent_config& cfg_;
  logger& log_;
  std::optional<last_run> last_;
  std::shared_ptr<entry> current_;
  struct sweeper;
  std::shared_ptr<sweeper> sweeper_;
};

}  // namespace respaldo
