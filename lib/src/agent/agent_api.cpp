#include "respaldo/agent/agent_api.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <vector>

#include "respaldo/agent/source.hpp"
#include "respaldo/core/blocking.hpp"
#include "respaldo/http/bearer.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/http/router.hpp"

namespace respaldo {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::system::error_code;

namespace {

constexpr std::string_view jobs_prefix = "/backup/export/jobs/";

std::string status_url_of(const std::string& id) {
  return std::string(jobs_prefix) + id;
}

// Writes [first, last] of the spool, reading it on the file threads; a download that sent the
// file's last byte completes the export (its spool is removed). Parameters by value: the
// coroutine outlives the response that started it.
asio::awaitable<error_code> stream_download(export_service* svc, asio::thread_pool* files,
                                            std::shared_ptr<spool_reader> file, byte_range range,
                                            std::string id, body_sink& sink) {
  std::vector<char> buf(1024 * 1024);
  std::uint64_t at = range.first;
  while (at <= range.last) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), range.last - at + 1));
    const int fd = file->fd();
    auto read = [&buf, fd, want, at]() {
      return ::pread(fd, buf.data(), want, static_cast<off_t>(at));
    };
    const ssize_t n = co_await run_blocking(*files, read);
    if (n <= 0) co_return make_error_code(errc::storage_error);
    if (auto ec = co_await sink.write(asio::buffer(buf.data(), static_cast<std::size_t>(n))))
      co_return ec;
    at += static_cast<std::uint64_t>(n);
  }
  if (range.last + 1 == file->size()) svc->downloaded(id);
  co_return error_code{};
}

}  // namespace

struct agent_api::impl {
  impl(const agent_config& c, export_service& e, logger& l) : cfg(c), exports(e), log(l) {
    auto add = [this](const char* method, const char* pattern,
                      asio::awaitable<http_response> (impl::*fn)(http_request&)) {
      table.add(method, pattern, [this, fn](http_request& req) { return (this->*fn)(req); });
    };
    add("GET", "/healthz", &impl::healthz);
    add("GET", "/backup/capabilities", &impl::capabilities);
    add("POST", "/backup/export", &impl::start_export);
    add("GET", "/backup/export/jobs/{id}", &impl::export_status);
  }

  const agent_config& cfg;
  export_service& exports;
  logger& log;
  router table;

  asio::awaitable<http_response> healthz(http_request&) {
    co_return json_response(200, json::object{{"status", "ok"}});
  }

  asio::awaitable<http_response> capabilities(http_request&) {
    json::array types;
    for (const auto& t : plan_source(cfg).types) types.emplace_back(t);
    json::object doc{{"version", "v1"}, {"types", std::move(types)}};
    if (const auto& last = exports.estimate()) {
      doc["est_seconds"] = last->seconds;
      doc["est_size"] = last->size;
    }
    co_return json_response(200, doc);
  }

  asio::awaitable<http_response> start_export(http_request&) {
    auto started = exports.start();
    const auto url = status_url_of(started.current.id);
    if (!started.started)
      co_return problem(409, code_name(errc::export_in_progress),
                        "export " + started.current.id +
                            " is still running; poll its status_url, one export runs at a time",
                        {{"job_id", started.current.id}, {"status_url", url}});
    if (cfg.mode == agent_mode::deferred) {
      auto res =
          json_response(202, json::object{{"job_id", started.current.id}, {"status_url", url}});
      res.set_header("Location", url);
      co_return res;
    }
    // stream mode: answer once the spool is complete, with the whole file
    co_await exports.wait_finished(started.current.id);
    auto snap = exports.find(started.current.id);
    if (!snap) co_return problem(500, "export_failed", "the export was removed before it ended");
    if (snap->phase == export_phase::failed)
      co_return problem(500, code_name(errc::export_command_failed), snap->error,
                        {{"job_id", snap->id}});
    co_return download(*snap, std::nullopt);
  }

  asio::awaitable<http_response> export_status(http_request& req) {
    const auto& id = req.param("id");
    auto snap = exports.find(id);
    if (!snap)
      co_return problem(404, "not_found",
                        "no export " + id +
                            " (a finished export is removed after a complete download or "
                            "--spool-ttl); start one with POST /backup/export");
    if (snap->phase == export_phase::failed) {
      // docs/deferred-export.md: a failure report is a 200 JSON document, not a download.
      co_return json_response(
          200, json::object{{"status", "failed"}, {"job_id", snap->id}, {"error", snap->error}});
    }
    if (snap->phase == export_phase::running) co_return progress(*snap);
    co_return download(*snap, req.header("Range"));
  }

  http_response progress(const export_snapshot& snap) {
    json::object doc{{"status", "running"},
                     {"job_id", snap.id},
                     {"bytes_done", snap.bytes_done},
                     {"elapsed_seconds", snap.elapsed_seconds}};
    // Come back about when the last run says it ends; between 1 and 30 seconds.
    std::uint64_t wait = 1;
    if (const auto& last = exports.estimate()) {
      if (last->size > 0)
        doc["progress"] =
            std::min(0.99, static_cast<double>(snap.bytes_done) / static_cast<double>(last->size));
      const double left = static_cast<double>(last->seconds) - snap.elapsed_seconds;
      wait = static_cast<std::uint64_t>(std::clamp(left, 1.0, 30.0));
    }
    auto res = json_response(202, doc);
    res.set_header("Retry-After", std::to_string(wait));
    return res;
  }

  http_response download(const export_snapshot& snap, std::optional<std::string_view> range_hdr) {
    auto range = parse_range(range_hdr, snap.size);
    if (!range) {
      if (range.error().code == errc::range_not_satisfiable) {
        auto res = problem(416, code_name(errc::range_not_satisfiable), range.error().message);
        res.set_header("Content-Range", "bytes */" + std::to_string(snap.size));
        return res;
      }
      return problem(400, "invalid_parameter", "Range: " + range.error().message,
                     {{"field", "Range"}});
    }
    auto file = exports.open_download(snap.id);
    if (!file) return problem(404, "not_found", file.error().message);
    const bool partial = range->has_value();
    const byte_range r = partial ? **range : byte_range{0, snap.size == 0 ? 0 : snap.size - 1};
    http_response res;
    res.status = partial ? 206 : 200;
    res.set_header("Content-Type", "application/octet-stream");
    res.set_header("X-Checksum-SHA256", snap.sha256);
    res.set_header("X-Size", std::to_string(snap.size));
    res.set_header("X-Format", cfg.format);
    res.set_header("Accept-Ranges", "bytes");
    if (partial)
      res.set_header("Content-Range", "bytes " + std::to_string(r.first) + "-" +
                                          std::to_string(r.last) + "/" + std::to_string(snap.size));
    if (snap.size == 0) {
      exports.downloaded(snap.id);
      return res;
    }
    res.stream_length = r.last - r.first + 1;
    export_service* svc = &exports;
    asio::thread_pool* files = &exports.files();
    const std::string id = snap.id;
    auto shared_file = std::move(*file);
    res.stream = [svc, files, shared_file, r, id](body_sink& sink) {
      return stream_download(svc, files, shared_file, r, id, sink);
    };
    return res;
  }

  asio::awaitable<http_response> dispatch(http_request& req) {
    auto m = table.match(req.method, req.path);
    if (req.path != "/healthz")
      if (auto refused = refuse_without_bearer(req, cfg.token, "agent"))
        co_return std::move(*refused);
    if (m.result == route_match::outcome::not_found)
      co_return problem(404, "not_found", "no resource at " + req.path);
    if (m.result == route_match::outcome::method_not_allowed) {
      auto res = problem(405, "method_not_allowed",
                         req.method + " is not supported on " + req.path + "; use " + m.allow);
      res.set_header("Allow", m.allow);
      co_return res;
    }
    req.path_params = std::move(m.params);
    co_return co_await (*m.handler)(req);
  }
};

agent_api::agent_api(const agent_config& cfg, export_service& exports, logger& log)
    : impl_(std::make_unique<impl>(cfg, exports, log)) {}

agent_api::~agent_api() = default;

asio::awaitable<http_response> agent_api::handle(http_request& req) {
  return impl_->dispatch(req);
}

}  // namespace respaldo
