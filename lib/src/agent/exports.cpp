#include "respaldo/agent/exports.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <vector>

#include "respaldo/agent/child.hpp"
#include "respaldo/agent/gzip.hpp"
#include "respaldo/agent/source.hpp"
#include "respaldo/core/blocking.hpp"
#include "respaldo/core/file_io.hpp"
#include "respaldo/core/ids.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {
constexpr std::size_t chunk = 1024 * 1024;
constexpr std::size_t error_tail = 400;  // of stderr, in the job error (respaldo keeps 500)
}  // namespace

spool_reader::~spool_reader() {
  if (fd_ >= 0) ::close(fd_);
}

struct export_service::entry {
  explicit entry(asio::any_io_executor ex) : done(ex, steady::time_point::max()), deadline(ex) {}
  export_snapshot snap;
  steady::time_point started = steady::now();
  steady::time_point finished{};
  std::string spool;
  std::unique_ptr<child_process> child;
  bool timed_out = false;
  asio::steady_timer done;      // cancelled when the export ends: wakes wait_finished
  asio::steady_timer deadline;  // --timeout
};

struct export_service::sweeper {
  explicit sweeper(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  bool stopped = false;
};

export_service::export_service(asio::any_io_executor ex, asio::thread_pool& files,
                               const agent_config& cfg, logger& log)
    : ex_(ex), files_(files), cfg_(cfg), log_(log), sweeper_(std::make_shared<sweeper>(ex)) {}

export_service::~export_service() {
  stop();
}

outcome<void> export_service::open() {
  auto removed = prepare_spool_dir(cfg_.spool_dir);
  if (!removed) return removed.error();
  if (*removed)
    log_.warn("removed the spool of an unfinished run",
              {{"files", static_cast<std::uint64_t>(*removed)}, {"spool_dir", cfg_.spool_dir}});
  last_ = load_last_run(cfg_.spool_dir);
  auto loop = [this]() { return sweep(); };
  asio::co_spawn(ex_, loop, asio::detached);
  return {};
}

export_service::start_result export_service::start() {
  if (current_ && current_->snap.phase == export_phase::running) return {false, current_->snap};
  if (current_) forget("replaced by a new export");
  auto e = std::make_shared<entry>(ex_);
  e->snap.id = random_hex_id(8);
  e->spool = spool_file_path(cfg_.spool_dir, e->snap.id);
  current_ = e;
  log_.info("export started", {{"export_id", e->snap.id}, {"source", to_string(cfg_.source)}});
  auto task = [this, e]() { return run(e); };
  asio::co_spawn(ex_, task, asio::detached);
  return {true, e->snap};
}

std::optional<export_snapshot> export_service::find(const std::string& id) const {
  if (!current_ || current_->snap.id != id) return std::nullopt;
  auto snap = current_->snap;
  const auto end = snap.phase == export_phase::running ? steady::now() : current_->finished;
  snap.elapsed_seconds = std::chrono::duration<double>(end - current_->started).count();
  return snap;
}

asio::awaitable<void> export_service::wait_finished(const std::string& id) {
  auto e = current_;
  if (!e || e->snap.id != id) co_return;
  while (e->snap.phase == export_phase::running)
    co_await e->done.async_wait(asio::as_tuple(asio::use_awaitable));
}

outcome<std::shared_ptr<spool_reader>> export_service::open_download(const std::string& id) {
  if (!current_ || current_->snap.id != id || current_->snap.phase != export_phase::ready)
    return failure{errc::not_found, "no finished export " + id};
  const int fd = ::open(current_->spool.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_failure(errno, "cannot open the spool of export " + id);
  return std::make_shared<spool_reader>(fd, current_->snap.size);
}

void export_service::downloaded(const std::string& id) {
  if (current_ && current_->snap.id == id && current_->snap.phase == export_phase::ready)
    forget("downloaded");
}

void export_service::forget(const std::string& reason) {
  if (!current_) return;
  std::error_code ec;
  std::filesystem::remove(current_->spool, ec);
  log_.info("spool removed", {{"export_id", current_->snap.id}, {"reason", reason}});
  current_.reset();
}

void export_service::stop() {
  sweeper_->stopped = true;
  sweeper_->timer.cancel();
  if (current_ && current_->child) current_->child->kill();
}

// Reads the command's stdout into the spool file, compressing (gzip sources) and hashing each
// chunk on the file thread: the hash is of the bytes served.
asio::awaitable<outcome<void>> export_service::pump(entry& e, int fd, bool gzip) {
  std::vector<char> buf(chunk);
  sha256 hash;
  std::unique_ptr<gzip_writer> z = gzip ? std::make_unique<gzip_writer>() : nullptr;
  std::string packed;
  std::uint64_t total = 0;
  while (true) {
    auto n = co_await e.child->read_some(asio::buffer(buf));
    if (!n) co_return n.error();
    const std::size_t got = *n;
    if (got == 0 && !z) break;
    auto write_chunk = [&buf, &hash, &z, &packed, fd, got]() -> outcome<std::size_t> {
      const char* data = buf.data();
      std::size_t size = got;
      if (z) {
        packed.clear();
        if (!z->write(buf.data(), got, got == 0, packed))
          return failure{errc::export_command_failed, "gzip compression failed"};
        data = packed.data();
        size = packed.size();
      }
      hash.update(data, size);
      if (auto w = write_fully(fd, data, size); !w) return w.error();
      return size;
    };
    auto wrote = co_await run_blocking(files_, write_chunk);
    if (!wrote) {
      e.child->kill();
      if (wrote.error().code == boost::system::errc::no_space_on_device)
        co_return failure{errc::spool_full, "the spool dir " + cfg_.spool_dir +
                                                " filled up after " + std::to_string(total) +
                                                " bytes: give --spool-dir more space"};
      co_return wrote.error();
    }
    total += *wrote;
    e.snap.bytes_done = total;
    if (got == 0) break;  // the gzip trailer is written
  }
  e.snap.size = total;
  e.snap.sha256 = hash.finish_hex();
  co_return outcome<void>{};
}

asio::awaitable<void> export_service::run(std::shared_ptr<entry> e) {
  const auto needed = spool_space_needed(last_);
  const std::string dir = cfg_.spool_dir;
  auto check = [dir, needed]() { return check_spool_space(dir, needed); };
  if (auto space = co_await run_blocking(files_, check); !space) {
    finish(*e, space.error());
    co_return;
  }
  const std::string path = e->spool;
  auto create = [path]() {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return std::pair<int, int>{fd, fd < 0 ? errno : 0};  // errno of the file thread
  };
  const auto [fd, open_errno] = co_await run_blocking(files_, create);
  if (fd < 0) {
    finish(*e, errno_failure(open_errno, "cannot create the spool file " + path));
    co_return;
  }
  const auto plan = plan_source(cfg_);
  auto spawned = child_process::spawn(ex_, plan.spec);
  if (!spawned) {
    ::close(fd);
    finish(*e, spawned.error());
    co_return;
  }
  e->child = std::move(*spawned);
  e->deadline.expires_after(cfg_.timeout);
  std::weak_ptr<entry> weak = e;
  e->deadline.async_wait([weak](const boost::system::error_code& ec) {
    auto alive = weak.lock();
    if (ec || !alive || !alive->child) return;
    alive->timed_out = true;
    alive->child->kill();
  });
  auto stderr_done = std::make_shared<bool>(false);
  auto drain = [e, stderr_done]() -> asio::awaitable<void> {
    co_await e->child->drain_stderr();
    *stderr_done = true;
    e->done.cancel();
  };
  asio::co_spawn(ex_, drain, asio::detached);
  auto pumped = co_await pump(*e, fd, plan.gzip);
  ::close(fd);
  if (!pumped) e->child->kill();  // nobody reads its output any more
  while (!*stderr_done) co_await e->done.async_wait(asio::as_tuple(asio::use_awaitable));
  const auto exit = co_await e->child->wait();
  e->deadline.cancel();
  const std::string program = plan.spec.argv[0] == "/bin/sh" ? "the command" : plan.spec.argv[0];
  if (e->timed_out) {
    finish(*e, failure{errc::timeout,
                       program + " ran longer than --timeout " +
                           format_duration(
                               std::chrono::duration_cast<std::chrono::seconds>(cfg_.timeout)) +
                           " and was killed"});
  } else if (!pumped && pumped.error().code == errc::spool_full) {
    finish(*e, pumped.error());
  } else if (!exit.ok() && !(plan.exit_one_is_warning && !exit.signaled && exit.status == 1)) {
    std::string msg = program + " failed with " + exit.describe();
    const auto& tail = e->child->stderr_tail();
    if (!tail.empty())
      msg += ": " + escaped_excerpt(std::string_view(tail).substr(
                                        tail.size() > error_tail ? tail.size() - error_tail : 0),
                                    error_tail);
    finish(*e, failure{errc::export_command_failed, msg});
  } else if (!pumped) {
    finish(*e, pumped.error());
  } else {
    if (!exit.ok())
      log_.warn("tar reported files that changed while they were read",
                {{"export_id", e->snap.id}});
    finish(*e, outcome<void>{});
  }
  e->child.reset();
}

void export_service::finish(entry& e, outcome<void> result) {
  e.finished = steady::now();
  const auto seconds = std::chrono::duration<double>(e.finished - e.started).count();
  if (result) {
    e.snap.phase = export_phase::ready;
    last_ = last_run{static_cast<std::uint64_t>(seconds + 0.999), e.snap.size};
    if (auto saved = save_last_run(cfg_.spool_dir, *last_); !saved)
      log_.warn("cannot save the last run's figures", {{"error", saved.error().message}});
    log_.info("export ready", {{"export_id", e.snap.id},
                               {"size", e.snap.size},
                               {"sha256", e.snap.sha256},
                               {"seconds", seconds}});
  } else {
    e.snap.phase = export_phase::failed;
    e.snap.error = result.error().message;
    std::error_code ec;
    std::filesystem::remove(e.spool, ec);
    log_.error("export failed", {{"export_id", e.snap.id},
                                 {"code", std::string(code_name(result.error().code))},
                                 {"error", e.snap.error}});
  }
  e.done.cancel();
}

// Removes a finished export nobody downloaded within --spool-ttl.
asio::awaitable<void> export_service::sweep() {
  auto s = sweeper_;
  const auto period = std::clamp<std::chrono::milliseconds>(
      cfg_.spool_ttl / 4, std::chrono::milliseconds(100), std::chrono::milliseconds(60'000));
  while (!s->stopped) {
    s->timer.expires_after(period);
    co_await s->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (s->stopped) break;
    if (current_ && current_->snap.phase != export_phase::running &&
        steady::now() - current_->finished >= cfg_.spool_ttl)
      forget("spool-ttl");
  }
}

}  // namespace respaldo
