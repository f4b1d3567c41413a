#include "respaldo/storage/local/local_storage.hpp"

#include <date/date.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "respaldo/core/blocking.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/core/file_io.hpp"
#include "respaldo/core/time_format.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using boost::system::error_code;

// Location strings come from the catalog; refuse anything that could leave the root.
bool safe_relative(const std::string& location) {
  if (location.empty() || location.front() == '/' || location.find('\0') != std::string::npos)
    return false;
  for (const auto& part : fs::path(location))
    if (part == ".." || part == ".") return false;
  return true;
}

// One level of the tree (folder id, app name): never empty, never a path of its own, and never
// hidden, since hidden names are reserved for unfinished uploads.
bool safe_component(const std::string& name) {
  return !name.empty() && name.front() != '.' && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// An unfinished upload of `final_name` is the hidden file ".<final_name>.partial" beside it, so it
// can never be mistaken for a finished backup, whatever the backup's format is called.
constexpr std::string_view partial_suffix = ".partial";

bool is_partial_name(const std::string& name) {
  return name.size() > 1 + partial_suffix.size() && name.front() == '.' &&
         name.compare(name.size() - partial_suffix.size(), partial_suffix.size(), partial_suffix) ==
             0;
}

class local_upload final : public storage_upload {
 public:
  local_upload(asio::thread_pool& pool, fs::path final_path, fs::path partial, std::string location,
               int fd, upload_request req)
      : pool_(pool),
        final_(std::move(final_path)),
        partial_(std::move(partial)),
        location_(std::move(location)),
        fd_(fd),
        req_(std::move(req)) {}
  ~local_upload() override { discard(); }

  std::uint64_t committed() const override { return 0; }
  std::string resume_state() const override { return ""; }

  asio::awaitable<outcome<void>> write(asio::const_buffer chunk) override {
    int fd = fd_;
    const auto offset = static_cast<off64_t>(written_);
    auto blocking_call = [fd, chunk, offset] {
      auto written = write_fully(fd, chunk.data(), chunk.size());
      // Start writeback of this chunk now, so that the final fsync has little left to flush.
      if (written && chunk.size() > 0)
        ::sync_file_range(fd, offset, static_cast<off64_t>(chunk.size()), SYNC_FILE_RANGE_WRITE);
      return written;
    };
    const auto written = co_await run_blocking(pool_, std::move(blocking_call));
    if (!written)
      co_return set_error("writing " + partial_.string() + " failed: " + written.error().message);
    written_ += chunk.size();
    co_return outcome<void>{};
  }

  asio::awaitable<outcome<stored_object>> finish(asio::const_buffer last) override {
    if (fd_ < 0) co_return set_error("the upload of " + final_.string() + " is already closed");
    if (auto written = co_await write(last); !written) {
      discard();
      co_return written.error();
    }
    int fd = fd_;
    fs::path partial = partial_, final_path = final_;
    auto blocking_call = [fd, partial, final_path]() -> outcome<void> {
      if (::fsync(fd) != 0)
        return errno_failure(errno, "fsync of " + partial.string() + " failed: ");
      if (::rename(partial.c_str(), final_path.c_str()) != 0)
        return errno_failure(errno, "rename to " + final_path.string() + " failed: ");
      sync_parent_directory(final_path.string());
      return {};
    };
    const auto published = co_await run_blocking(pool_, std::move(blocking_call));
    if (!published) {
      discard();
      co_return set_error(published.error().message);
    }
    ::close(fd_);
    fd_ = -1;
    stored_object obj;
    obj.location = location_;
    obj.name = final_.filename().string();
    obj.size = written_;
    obj.sha256 = req_.sha256;
    obj.created_at = req_.created_at;
    co_return obj;
  }

  asio::awaitable<void> abort() override {
    discard();
    co_return;
  }

 private:
  // Closes and removes the unfinished file (a quick metadata call, done in place).
  void discard() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(partial_.c_str());
    }
  }
  static failure set_error(std::string e) {
    return failure{make_error_code(errc::storage_error), std::move(e)};
  }
  asio::thread_pool& pool_;
  fs::path final_, partial_;
  std::string location_;
  int fd_;
  upload_request req_;
  std::uint64_t written_ = 0;
};

class local_download final : public storage_download {
 public:
  local_download(asio::thread_pool& pool, int fd, std::uint64_t size,
                 asio::cancellation_slot cancel)
      : pool_(pool), fd_(fd), size_(size), cancel_(cancel) {
    // File reads are short blocking calls: a cancel takes effect at the next read.
    if (cancel_.is_connected()) {
      auto on_cancel = [this](asio::cancellation_type) { cancelled_ = true; };
      cancel_.assign(on_cancel);
    }
  }
  ~local_download() override {
    if (cancel_.is_connected()) cancel_.clear();
    ::close(fd_);
  }
  std::uint64_t size() const override { return size_; }
  asio::awaitable<outcome<std::size_t>> read_some(asio::mutable_buffer buf) override {
    if (cancelled_)
      co_return failure{make_error_code(errc::cancelled), "the download was cancelled"};
    int fd = fd_;
    auto blocking_call = [fd, buf]() -> ssize_t {
      while (true) {
        auto r = ::read(fd, buf.data(), buf.size());
        if (r < 0 && errno == EINTR) continue;
        return r < 0 ? -errno : r;
      }
    };
    auto n = co_await run_blocking(pool_, std::move(blocking_call));
    if (cancelled_)
      co_return failure{make_error_code(errc::cancelled), "the download was cancelled"};
    if (n < 0) {
      const error_code ec(static_cast<int>(-n), boost::system::system_category());
      co_return failure{ec, "reading failed: " + ec.message()};
    }
    co_return static_cast<std::size_t>(n);
  }

 private:
  asio::thread_pool& pool_;
  int fd_;
  std::uint64_t size_;
  asio::cancellation_slot cancel_;
  bool cancelled_ = false;
};

failure storage_failure(std::string message) {
  return failure{make_error_code(errc::storage_error), std::move(message)};
}

// Refuses at once a backup the file system has no room for: its announced size plus 1% for the
// file system's own blocks, checked before the partial file exists.
outcome<void> check_free_space(const fs::path& dir, std::uint64_t total_size) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0)
    return errno_failure(errno, "checking the free space of " + dir.string() + " failed: ");
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  const std::uint64_t needed = total_size + (total_size + 99) / 100;
  if (needed <= free_bytes) return {};
  return failure{make_error_code(errc::storage_full),
                 "not enough free space in " + dir.string() + ": the backup needs " +
                     std::to_string(needed) + " bytes (X-Size " + std::to_string(total_size) +
                     " plus 1%) but " + std::to_string(free_bytes) + " are free"};
}

}  // namespace

local_storage::local_storage(asio::thread_pool& blocking_pool, std::string root)
    : pool_(blocking_pool), root_(std::move(root)) {}

asio::awaitable<outcome<std::unique_ptr<storage_upload>>> local_storage::begin(
    const upload_request& request) {
  const std::string file_name =
      compact_utc_timestamp(request.created_at) + "-" + request.job_id + "." + request.format;
  const std::string location = request.folder + "/" + request.app + "/" + file_name;
  if (!safe_component(request.folder) || !safe_component(request.app) ||
      !safe_component(request.job_id) || !safe_component(request.format) ||
      !safe_relative(location)) {
    co_return storage_failure("refusing an unsafe storage path for folder \"" +
                              request.folder.substr(0, 80) + "\", app \"" +
                              request.app.substr(0, 80) + "\"");
  }
  fs::path final_path = fs::path(root_) / location;
  fs::path partial = final_path.parent_path() / ("." + file_name + std::string(partial_suffix));
  auto blocking_call = [final_path, partial, size = request.total_size]() -> outcome<int> {
    std::error_code ec;
    fs::create_directories(final_path.parent_path(), ec);
    if (ec)
      return errno_failure(ec.value(),
                           "creating " + final_path.parent_path().string() + " failed: ");
    if (auto room = check_free_space(final_path.parent_path(), size); !room) return room.error();
    int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return errno_failure(errno, "creating " + partial.string() + " failed: ");
    return fd;
  };
  const auto opened = co_await run_blocking(pool_, std::move(blocking_call));
  if (!opened) {
    if (opened.error().code == errc::storage_full) co_return opened.error();
    co_return storage_failure(opened.error().message);
  }
  const int fd = *opened;
  co_return std::unique_ptr<storage_upload>(
      std::make_unique<local_upload>(pool_, final_path, partial, location, fd, request));
}

asio::awaitable<outcome<std::unique_ptr<storage_download>>> local_storage::open(
    const std::string& location, asio::cancellation_slot cancel) {
  const failure not_found{make_error_code(errc::not_found), "no backup at " + location};
  if (!safe_relative(location)) co_return not_found;
  fs::path path = fs::path(root_) / location;
  const std::string what = "opening " + path.string() + " failed: ";
  auto blocking_call = [path, what]() -> outcome<std::pair<int, std::uint64_t>> {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_failure(errno, what);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return errno_failure(err, what);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return errno_failure(ENOENT, what);  // a directory or device is not a stored backup
    }
    return std::pair{fd, static_cast<std::uint64_t>(st.st_size)};
  };
  const auto opened = co_await run_blocking(pool_, std::move(blocking_call));
  if (!opened) {
    if (opened.error().code == std::errc::no_such_file_or_directory) co_return not_found;
    co_return storage_failure(opened.error().message);
  }
  const auto [fd, size] = *opened;
  co_return std::unique_ptr<storage_download>(
      std::make_unique<local_download>(pool_, fd, size, cancel));
}

asio::awaitable<outcome<void>> local_storage::remove(const std::string& location) {
  if (!safe_relative(location)) co_return storage_failure("refusing an unsafe storage path");
  fs::path path = fs::path(root_) / location;
  auto blocking_call = [path]() -> outcome<void> {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return errno_failure(errno, "removing " + path.string() + " failed: ");
    sync_parent_directory(path.string());
    return {};
  };
  const auto removed = co_await run_blocking(pool_, std::move(blocking_call));
  if (!removed) co_return storage_failure(removed.error().message);
  co_return outcome<void>{};
}

asio::awaitable<outcome<std::vector<stored_object>>> local_storage::list(const std::string& folder,
                                                                         const std::string& app) {
  if (!safe_component(folder) || !safe_component(app))
    co_return storage_failure("refusing an unsafe storage path");
  fs::path dir = fs::path(root_) / folder / app;
  const std::string prefix = folder + "/" + app + "/";
  auto blocking_call = [dir, prefix]() -> std::pair<std::vector<stored_object>, std::string> {
    std::vector<stored_object> out;
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
      if (ec) return {out, "reading " + dir.string() + " failed: " + ec.message()};
      return {out, ""};
    }
    fs::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      std::error_code fec;
      if (name.front() == '.' || !it->is_regular_file(fec)) continue;
      const auto size = it->file_size(fec);
      if (fec) continue;  // removed meanwhile
      stored_object o;
      o.location = prefix + name;
      o.name = name;
      o.size = size;
      out.push_back(std::move(o));
    }
    if (ec) return {out, "reading " + dir.string() + " failed: " + ec.message()};
    return {out, ""};
  };
  auto [objects, err] = co_await run_blocking(pool_, std::move(blocking_call));
  if (!err.empty()) co_return storage_failure(err);
  co_return objects;
}

std::size_t local_storage::remove_partials() {
  std::size_t removed = 0;
  std::error_code ec;
  if (!fs::exists(root_, ec)) return 0;
  std::vector<fs::path> doomed;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (is_partial_name(it->path().filename().string()) && it->is_regular_file(fec))
      doomed.push_back(it->path());
  }
  for (const auto& p : doomed) {
    std::error_code rec;
    if (fs::remove(p, rec)) ++removed;
  }
  return removed;
}

}  // namespace respaldo
