// Which connections the server takes. Idle sockets are cheap to open, so one client must not be
// able to use up the server's connection cap: each client address gets a cap of its own below
// the global one, and when the global cap is near the connection idle the longest is closed to
// make room before anyone is refused. Refusals are reported at most once per interval per
// address, with how many there were, so a flood cannot flood the log too. Sans-io: the server
// feeds it accepts, busy/idle changes and closes with the time, and acts on its answers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace respaldo {

struct admission_limits {
  std::size_t max_connections = 1024;
  std::size_t max_per_client = 64;
  std::chrono::steady_clock::duration report_interval = std::chrono::minutes(1);
};

enum class refusal_reason { client_limit, global_limit };

// One log line: `refused` refusals from `address` since its previous report, this one included.
struct refusal_report {
  std::string address;
  refusal_reason reason = refusal_reason::client_limit;
  std::uint64_t refused = 0;
};

class connection_admission {
 public:
  using connection_id = std::uint64_t;
  using time_point = std::chrono::steady_clock::time_point;

  struct verdict {
    std::optional<connection_id> admitted;  // the new connection's id when it is taken
    std::optional<connection_id> evict;     // an idle connection to close to make room
    std::optional<refusal_report> report;   // a refusal to log now
  };

  explicit connection_admission(admission_limits limits);

  // A connection from `address` was accepted by the socket layer.
  verdict admit(const std::string& address, time_point now);
  // A request is being read or answered (busy), or the connection waits for one (idle).
  void set_busy(connection_id id, bool busy, time_point now);
  // The connection closed.
  void release(connection_id id);

  bool idle(connection_id id) const;
  std::size_t open() const { return connections_.size(); }
  std::size_t open_from(const std::string& address) const;
  // From this many live connections on, each admission closes the longest-idle one.
  std::size_t eviction_threshold() const;

 private:
  struct entry {
    std::string address;
    bool busy = false;
    bool evicting = false;  // told to close; gone at release
    time_point idle_since;
  };
  struct report_state {
    time_point last;
    std::uint64_t pending = 0;
  };

  std::optional<connection_id> longest_idle() const;
  std::optional<refusal_report> note_refusal(const std::string& address, refusal_reason reason,
                                             time_point now);

  admission_limits limits_;
  connection_id next_id_ = 1;
  std::size_t evicting_ = 0;
  std::unordered_map<connection_id, entry> connections_;
  std::unordered_map<std::string, std::size_t> per_address_;
  std::unordered_map<std::string, report_state> reports_;
};

}  // namespace respaldo
