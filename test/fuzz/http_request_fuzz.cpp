// The server's request parsing under its own limits: Beast's parser configured as the server
// configures it, fed in two reads split where the first byte says, then the framing check, the
// request id and the target split the server applies to every request.
#include <boost/beast/http/parser.hpp>

#include "fuzz_support.hpp"
#include "http/request_parse.hpp"
#include "respaldo/http/server.hpp"

using namespace respaldo;
namespace http = boost::beast::http;

namespace {

// Feeds `bytes` like the server's read loop: the parser takes what it can, the rest waits for
// the next read. Returns the error that ended the header or body, if any.
boost::system::error_code feed(http::request_parser<http::string_body>& parser,
                               std::string_view bytes, std::size_t first_read,
                               std::size_t header_limit) {
  std::string buffered;
  std::size_t header_bytes = 0;
  for (auto read :
       {bytes.substr(0, first_read), bytes.substr(std::min(first_read, bytes.size()))}) {
    buffered.append(read);
    if (!parser.is_header_done()) header_bytes += read.size();
    while (!buffered.empty() && !parser.is_done()) {
      boost::system::error_code ec;
      const auto used = parser.put(boost::asio::buffer(buffered), ec);
      buffered.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) return ec;
      if (!parser.is_header_done() && header_bytes > header_limit) return http::error::header_limit;
    }
  }
  if (!parser.is_done()) return http::error::need_more;
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const http_server_options limits;
  const auto bytes = fuzz::as_text(data + 1, size - 1);
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
  parser.body_limit(limits.body_limit);
  const std::size_t first_read = data[0] * bytes.size() / 255;
  const auto ec = feed(parser, bytes, first_read, limits.header_limit);
  if (!parser.is_header_done()) return 0;
  auto framing = check_transfer_encoding(parser.get());
  if (framing) {
    for (unsigned char c : *framing)
      fuzz::require(c >= 0x20 && c != 0x7f, "a framing refusal holds no control characters");
    return 0;
  }
  auto req = request_head(parser.get(), "fallback");
  fuzz::require(req.request_id == "fallback" || acceptable_request_id(req.request_id),
                "only an acceptable request id is echoed", req.request_id);
  if (ec) return 0;
  fuzz::require(parser.get().body().size() <= limits.body_limit, "a body stays within the limit");
  take_message(parser.get(), req);
  if (split_target(req))
    fuzz::require(!req.path.empty() && req.path.front() == '/', "a split path is absolute",
                  req.path);
  return 0;
}
