// GET /api/backups/{id}/content: streams a stored backup, re-checking its size and checksum.
#include <cctype>
#include <memory>
#include <vector>

#include "context.hpp"
#include "respaldo/core/clock.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/storage/storage.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo::api_detail {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Re-hash while streaming: a stored file that changed since it was verified is cut off before its
// end, so the client never receives it as complete.
asio::awaitable<error_code> stream_checked(std::shared_ptr<storage_download> src, backup_record b,
                                           logger* log, body_sink& sink) {
  std::vector<char> buf(1024 * 1024);
  sha256 hash;
  std::uint64_t sent = 0;
  while (true) {
    auto n = co_await src->read_some(asio::buffer(buf));
    if (!n) co_return n.error().code;
    if (*n == 0) break;
    std::size_t take = *n;
    hash.update(buf.data(), take);
    sent += take;
    if (sent > b.size) {
      log->error("stored backup is larger than its catalog entry", {{"backup", b.id}});
      co_return make_error_code(errc::size_mismatch);
    }
    // Hold the final bytes back until the checksum is known to match.
    if (sent == b.size && hash.finish_hex() != b.sha256) {
      log->error("stored backup fails its checksum", {{"backup", b.id}});
      co_return make_error_code(errc::checksum_mismatch);
    }
    if (auto ec = co_await sink.write(asio::buffer(buf.data(), take))) co_return ec;
  }
  if (sent != b.size) co_return make_error_code(errc::size_mismatch);
  co_return error_code{};
}

http_response download_failure(const std::string& id, const failure& f) {
  if (f.code == errc::not_found)
    return problem(404, "backup_missing",
                   "backup " + id + " is in the catalog but missing from storage",
                   {{"backup_id", id}});
  return problem(502, "storage_error",
                 "could not read backup " + id + " from storage: " + f.message);
}

// A path segment with everything but unreserved characters percent-encoded (RFC 3986).
std::string path_segment(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// A content request carrying `sig`: the signature must be valid for this backup and unexpired
// (403 otherwise; the signature is never repeated).
std::optional<http_response> refuse_bad_signature(const api_context& ctx, const http_request& req,
                                                  const std::string& id) {
  auto sig = req.query_param("sig");
  if (!sig) return std::nullopt;
  switch (ctx.links.check(id, *sig, ctx.svc.clock.now())) {
    case link_verdict::valid:
      return std::nullopt;
    case link_verdict::expired:
      return problem(403, code_name(errc::link_expired),
                     "this download link has expired; ask for a new one with POST "
                     "/api/backups/" +
                         id + "/download-url");
    case link_verdict::malformed:
    case link_verdict::wrong:
      break;
  }
  return problem(403, code_name(errc::invalid_signature),
                 "the download link's signature is not valid for backup " + id +
                     "; ask for a new one with POST /api/backups/" + id + "/download-url");
}

}  // namespace

bool is_signed_content_request(const http_request& req) {
  constexpr std::string_view prefix = "/api/backups/", suffix = "/content";
  const std::string_view p = req.path;
  if (req.method != "GET" || !req.query_param("sig")) return false;
  if (p.size() <= prefix.size() + suffix.size() || p.rfind(prefix, 0) != 0) return false;
  if (p.substr(p.size() - suffix.size()) != suffix) return false;
  const auto id = p.substr(prefix.size(), p.size() - prefix.size() - suffix.size());
  return id.find('/') == std::string_view::npos;
}

handler_result backup_download_url(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto found = ctx.svc.db.get_backup(id);
  if (!found) co_return store_failure();
  if (!*found) co_return backup_not_found(id);
  const auto expires = ctx.svc.clock.now() + ctx.svc.download_link_ttl;
  const std::string url =
      "/api/backups/" + path_segment(id) + "/content?sig=" + ctx.links.sign(id, expires);
  auto res = json_response(
      200, boost::json::object{{"url", url}, {"expires_at", format_rfc3339_utc(expires)}});
  res.set_header("Cache-Control", "no-store");
  co_return res;
}

handler_result backup_content(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  if (auto refused = refuse_bad_signature(ctx, req, id)) co_return std::move(*refused);
  auto found = ctx.svc.db.get_backup(id);
  if (!found) co_return store_failure();
  if (!*found) co_return backup_not_found(id);
  backup_record b = **found;
  if (!ctx.svc.backups || b.storage != ctx.svc.backups->kind())
    co_return problem(409, "storage_not_configured",
                      "backup " + id + " is kept in " + std::string(to_string(b.storage)) +
                          " storage, which this server is not configured for");
  auto download = co_await ctx.svc.backups->open(b.location);
  if (!download) co_return download_failure(id, download.error());
  http_response res;
  res.set_header("Content-Type", "application/octet-stream");
  res.set_header("X-Checksum-SHA256", b.sha256);
  res.set_header("X-Size", std::to_string(b.size));
  res.set_header("X-Format", b.format);
  res.set_header("Content-Disposition", "attachment; filename=\"" + b.name + "\"");
  res.set_header("Cache-Control", "no-store");
  res.set_header("Referrer-Policy", "no-referrer");
  res.stream_length = b.size;
  auto src = std::shared_ptr<storage_download>(std::move(*download));
  logger* log = &ctx.svc.log;
  res.stream = [src, b, log](body_sink& sink) { return stream_checked(src, b, log, sink); };
  co_return res;
}

}  // namespace respaldo::api_detail
