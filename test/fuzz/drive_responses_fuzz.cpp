// What Google's servers answer, parsed as respaldo parses it: error documents, the Range of a
// 308, file resources, token replies, credential files and the persisted resume state.
#include "fuzz_support.hpp"
#include "respaldo/storage/drive/drive_auth.hpp"
#include "respaldo/storage/drive/drive_upload.hpp"

using namespace respaldo;

namespace {

void check_error(unsigned status, std::string_view body) {
  auto e = parse_google_error(status, body);
  fuzz::require(e.message.size() <= 1024, "Google's message is cut short");
  for (unsigned char c : e.message)
    fuzz::require(c >= 0x20 && c != 0x7f, "Google's message holds no control characters");
  for (unsigned char c : describe(e))
    fuzz::require(c >= 0x20 && c != 0x7f, "a described error holds no control characters");
}

void check_file(std::string_view body) {
  auto file = parse_drive_file(body);
  if (!file) return fuzz::check_failure(file.error());
  fuzz::require(!file->location.empty(), "a parsed file has an id");
}

void check_token(std::string_view body, unsigned status) {
  drive_credentials creds;
  creds.type = status % 2 ? drive_credentials::kind::service_account
                          : drive_credentials::kind::authorized_user;
  auto token = parse_token_reply(creds, status, body);
  if (!token) return fuzz::check_failure(token.error());
  fuzz::require(status == 200, "only a 200 gives a token");
  fuzz::require(!token->value.empty(), "a token is not empty");
  fuzz::require(token->expires_in.count() > 0, "a token expires in the future");
}

void check_resume(std::string_view text) {
  auto state = decode_resume_state(text);
  if (!state) return;
  auto again = decode_resume_state(encode_resume_state(*state));
  fuzz::require(again && again->session_uri == state->session_uri &&
                    again->offset == state->offset && again->total == state->total &&
                    again->sha256 == state->sha256,
                "a resume state encodes back to itself");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 8192) return 0;
  // The first byte picks the status among the ones Drive's client tells apart.
  static constexpr unsigned statuses[] = {200, 308, 400, 401, 403, 404, 410, 429, 500, 503};
  const unsigned status = statuses[data[0] % std::size(statuses)];
  const auto body = fuzz::as_text(data + 1, size - 1);
  check_error(status, body);
  if (auto range = parse_upload_range(body))
    fuzz::require(*range > 0, "a persisted range is at least one byte");
  (void)parse_upload_range(std::nullopt);
  check_file(body);
  check_token(body, status);
  if (auto creds = parse_drive_credentials(body); !creds) fuzz::check_failure(creds.error());
  check_resume(body);
  return 0;
}
