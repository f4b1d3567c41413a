// The Drive backend's storage operations and its downloads (alt=media, resumed with a Range
// request when a connection breaks); uploads are in drive_upload_io.cpp.
#include "respaldo/storage/drive/drive_storage.hpp"

#include <boost/json.hpp>

#include "drive_files.hpp"

namespace respaldo {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::system::error_code;
using drive_detail::valid_file_id;

namespace {

failure fail(errc code, std::string message) {
  return failure{make_error_code(code), std::move(message)};
}

class drive_download final : public storage_download {
 public:
  drive_download(drive_storage::impl& s, std::string id, std::unique_ptr<http_connection> conn,
                 std::optional<std::uint64_t> size, asio::cancellation_slot cancel)
      : s_(s), id_(std::move(id)), conn_(std::move(conn)), size_(size), cancel_(cancel) {
    if (cancel_.is_connected()) {
      auto on_cancel = [this](asio::cancellation_type) { stop(); };
      cancel_.assign(on_cancel);
    }
  }
  ~drive_download() override {
    if (cancel_.is_connected()) cancel_.clear();
  }
  drive_download(const drive_download&) = delete;
  drive_download& operator=(const drive_download&) = delete;

  std::uint64_t size() const override { return size_.value_or(0); }

  asio::awaitable<outcome<std::size_t>> read_some(asio::mutable_buffer buf) override {
    for (;;) {
      if (cancelled_) co_return broken("the download was cancelled", errc::cancelled);
      if (!conn_) {
        if (size_ && received_ >= *size_) co_return std::size_t{0};
        if (auto r = co_await reopen(); !r) co_return r.error();
      }
      auto n = co_await conn_->read_body_some(buf);
      if (n && *n > 0) {
        received_ += *n;
        co_return *n;
      }
      error_code ec = n ? error_code{} : n.error().code;
      std::string detail = n ? std::string() : std::move(n.error().message);
      if (n) {
        // The body ended: complete unless shorter than announced.
        if (!size_ || received_ >= *size_) {
          s_.client.release(std::move(conn_));
          co_return std::size_t{0};
        }
        ec = make_error_code(errc::http_protocol_error);
        detail = "the body ended after " + std::to_string(received_) + " of " +
                 std::to_string(*size_) + " bytes";
      }
      conn_.reset();
      if (cancelled_ || ec == errc::cancelled || !size_ || ++resumes_ > 3)
        co_return broken(detail, cancelled_ ? error_code(errc::cancelled) : ec);
      s_.warn("drive download resumed", {{"file", id_}, {"offset", received_}, {"detail", detail}});
    }
  }

 private:
  // Job cancellation: the read in flight fails at once, and so does every later one.
  void stop() {
    cancelled_ = true;
    if (conn_) conn_->cancel();
    stop_reopen_.emit(asio::cancellation_type::terminal);
  }

  failure broken(const std::string& detail, error_code ec) const {
    return failure{ec, "downloading Drive file " + id_ + " broke after " +
                           std::to_string(received_) + " bytes: " + detail};
  }

  // Asks for the rest of the file after a broken connection.
  asio::awaitable<outcome<void>> reopen() {
    drive_storage::impl::call_spec spec;
    spec.target = s_.prefix + "/drive/v3/files/" + id_ + "?alt=media&supportsAllDrives=true";
    spec.headers = {{"Range", "bytes=" + std::to_string(received_) + "-"}};
    spec.stream = true;
    spec.cancel = stop_reopen_.slot();
    auto r = co_await s_.call(spec);
    if (!r)
      co_return failure{r.error().code, "resuming the download of Drive file " + id_ +
                                            " failed: " + r.error().message};
    const std::string expected = "bytes " + std::to_string(received_) + "-";
    const auto content_range = r->head.header("Content-Range");
    if (r->head.status != 206 || !r->conn || !content_range ||
        !content_range->starts_with(expected))
      co_return fail(errc::storage_error, "resuming the download of Drive file " + id_ +
                                              " at byte " + std::to_string(received_) +
                                              " got HTTP " + std::to_string(r->head.status));
    conn_ = std::move(r->conn);
    co_return outcome<void>{};
  }

  drive_storage::impl& s_;
  std::string id_;
  std::unique_ptr<http_connection> conn_;
  std::optional<std::uint64_t> size_;
  asio::cancellation_slot cancel_;
  asio::cancellation_signal stop_reopen_;
  bool cancelled_ = false;
  std::uint64_t received_ = 0;
  int resumes_ = 0;
};

}  // namespace

outcome<std::unique_ptr<drive_storage>> drive_storage::create(http_client& client,
                                                              drive_token_source& tokens,
                                                              drive_storage_options options) {
  auto url = parse_http_url(options.api_url);
  if (!url)
    return failure{make_error_code(errc::invalid_argument),
                   "--drive-api-url: " + url.error().message};
  if (url->target.find('?') != std::string::npos)
    return failure{make_error_code(errc::invalid_argument),
                   "--drive-api-url: must not have a query"};
  auto p = std::make_unique<impl>(client, tokens, std::move(options), std::move(*url));
  return std::unique_ptr<drive_storage>(new drive_storage(std::move(p)));
}

drive_storage::drive_storage(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
drive_storage::~drive_storage() = default;

asio::awaitable<outcome<std::unique_ptr<storage_upload>>> drive_storage::begin(
    const upload_request& request) {
  if (request.folder.empty())
    co_return fail(errc::drive_folder_not_found, "the app has no drive_folder_id");
  auto up = co_await start_drive_upload(*impl_, request);
  if (!up && up.error().code == errc::drive_folder_not_found)
    co_return failure{up.error().code,
                      "Drive folder \"" + request.folder + "\": " + up.error().message};
  co_return up;
}

asio::awaitable<outcome<std::unique_ptr<storage_download>>> drive_storage::open(
    const std::string& location, asio::cancellation_slot cancel) {
  const failure not_found = fail(errc::not_found, "Drive file " + location + " does not exist");
  if (!valid_file_id(location)) co_return not_found;
  impl::call_spec spec;
  spec.target = impl_->prefix + "/drive/v3/files/" + location + "?alt=media&supportsAllDrives=true";
  spec.stream = true;
  auto r = co_await impl_->call(spec);
  if (!r)
    co_return failure{r.error().code,
                      "downloading Drive file " + location + " failed: " + r.error().message};
  const unsigned status = r->head.status;
  if (status == 404) co_return not_found;
  if (status != 200 || !r->conn) {
    const google_error e = parse_google_error(status, r->body);
    co_return fail(status == 401 ? errc::drive_auth_failed : errc::storage_error,
                   "downloading Drive file " + location + " failed (" + describe(e) + ")");
  }
  const auto size = r->head.content_length;
  co_return std::unique_ptr<storage_download>(
      std::make_unique<drive_download>(*impl_, location, std::move(r->conn), size, cancel));
}

asio::awaitable<outcome<void>> drive_storage::remove(const std::string& location) {
  co_return co_await impl_->delete_file(location);
}

namespace {

// The files of one files.list page; false when the answer is not a JSON object.
bool parse_list_page(const std::string& body, std::vector<stored_object>& out,
                     std::string& next_page_token) {
  error_code jec;
  json::value doc = json::parse(body, jec);
  if (jec || !doc.is_object()) return false;
  const json::object& o = doc.get_object();
  if (const auto* files = o.if_contains("files"); files && files->is_array()) {
    for (const auto& f : files->get_array()) {
      const std::string one = json::serialize(f);
      auto parsed = parse_drive_file(one);
      if (parsed) out.push_back(std::move(*parsed));
    }
  }
  const auto* next = o.if_contains("nextPageToken");
  next_page_token = next && next->is_string() ? std::string(next->get_string()) : std::string();
  return true;
}

}  // namespace

asio::awaitable<outcome<std::vector<stored_object>>> drive_storage::list(const std::string& folder,
                                                                         const std::string& app) {
  std::vector<stored_object> out;
  const std::string base =
      impl_->prefix + "/drive/v3/files?q=" + query_encode(drive_list_query(folder, app)) +
      "&pageSize=1000&supportsAllDrives=true&includeItemsFromAllDrives=true&fields=" +
      query_encode("nextPageToken,files(" + std::string(drive_detail::file_fields) + ")");
  const std::string what = "listing Drive folder " + folder;
  std::string page_token;
  // Drive may return short or empty pages before the end; the bound only stops a runaway loop.
  for (int page = 0; page < 100000; ++page) {
    impl::call_spec spec;
    spec.target = base;
    if (!page_token.empty()) spec.target += "&pageToken=" + query_encode(page_token);
    spec.limit = drive_detail::list_body_limit;
    auto r = co_await impl_->call(spec);
    if (!r) co_return failure{r.error().code, what + " failed: " + r.error().message};
    if (r->head.status != 200) {
      const google_error e = parse_google_error(r->head.status, r->body);
      co_return fail(r->head.status == 401 ? errc::drive_auth_failed : errc::storage_error,
                     what + " failed (" + describe(e) + ")");
    }
    if (!parse_list_page(r->body, out, page_token))
      co_return fail(errc::storage_error, what + ": the answer is not JSON");
    if (page_token.empty()) co_return out;
  }
  co_return fail(errc::storage_error, what + ": too many pages");
}

}  // namespace respaldo
