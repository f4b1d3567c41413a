// The embedded storage backend: a directory tree
// DATA_DIR/backups/<drive_folder_id>/<app>/<UTC timestamp>-<job id>.<format>. Uploads go to a
// hidden ".<name>.partial" file beside it (mode 0600) that is fsynced and renamed into place only
// by finish(); abort() and a failed finish() remove it. File I/O runs on a
// thread pool so a slow disk never stalls the io_context.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

#include "respaldo/storage/storage.hpp"

namespace respaldo {

class local_storage final : public storage {
 public:
  local_storage(boost::asio::thread_pool& blocking_pool, std::string root);

  storage_kind kind() const override { return storage_kind::local; }
  std::size_t chunk_granularity() const override { return 0; }
  boost::asio::awaitable<outcome<std::unique_ptr<storage_upload>>> begin(
      const upload_request& request) override;
  boost::asio::awaitable<outcome<std::unique_ptr<storage_download>>> open(
      const std::string& location, boost::asio::cancellation_slot cancel = {}) override;
  boost::asio::awaitable<outcome<void>> remove(const std::string& location) override;
  boost::asio::awaitable<outcome<std::vector<stored_object>>> list(const std::string& folder,
                                                                   const std::string& app) override;

  // Removes the ".<name>.partial" files a crashed process left behind; call before any job runs.
  std::size_t remove_partials();
  const std::string& root() const { return root_; }

 private:
  boost::asio::thread_pool& pool_;
  std::string root_;
};

}  // namespace respaldo
