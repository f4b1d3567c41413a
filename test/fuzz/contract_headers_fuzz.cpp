// What an app answers under the contract, parsed as respaldo parses it: the download headers
// (X-Size, X-Checksum-SHA256, X-Format), Retry-After, the capabilities document, the 202's
// status_url and the deferred status document. Input: header lines "Name: value", then an
// empty line, then the body.
#include "fuzz_support.hpp"
#include "respaldo/contract/deferred_poll.hpp"
#include "respaldo/contract/exporter.hpp"

using namespace respaldo;

namespace {

http_client_response_head head_from(std::string_view block) {
  http_client_response_head head;
  head.status = 200;
  for (auto line : fuzz::split(block, '\n', 32)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    head.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  }
  return head;
}

void check_download(const http_client_response_head& head) {
  auto stream = read_contract_headers(head);
  if (!stream) return fuzz::check_failure(stream.error());
  fuzz::require(stream->sha256.size() == 64, "a checksum is 64 hex digits", stream->sha256);
  for (char c : stream->sha256)
    fuzz::require((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), "a checksum is lowercase hex");
  fuzz::require(!stream->format.empty(), "a download has a format");
  for (char c : stream->format)
    fuzz::require(c != '/' && c != '\\' && c != '\0', "a format cannot leave the folder",
                  stream->format);
}

void check_deferred(const http_client_response_head& head, std::string_view body) {
  static const auto export_url = *parse_http_url("http://app.internal:8080/backup/export");
  auto status = accepted_status_url(export_url, head, body);
  if (!status)
    fuzz::check_failure(status.error());
  else
    fuzz::require(status->origin == export_url.origin, "a status URL stays on the app's origin",
                  status->target);
  if (is_status_document(head)) fuzz::check_failure(status_document_failure(body));
  if (auto retry = head.header("Retry-After")) {
    deferred_poll poll(std::chrono::seconds(1), std::chrono::seconds(30));
    const auto wait = poll.next_delay(*retry, std::chrono::system_clock::now());
    fuzz::require(wait >= deferred_poll::min_wait && wait <= std::chrono::seconds(30),
                  "a poll waits within its bounds");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 8192) return 0;
  const auto text = fuzz::as_text(data, size);
  const auto split_at = text.find("\n\n");
  const auto block = text.substr(0, split_at);
  const auto body =
      split_at == std::string_view::npos ? std::string_view{} : text.substr(split_at + 2);
  const auto head = head_from(block);
  check_download(head);
  check_deferred(head, body);
  if (auto caps = parse_capabilities(body); !caps)
    fuzz::check_failure(caps.error());
  else
    fuzz::require(caps->version == "v1", "only v1 capabilities are accepted");
  return 0;
}
