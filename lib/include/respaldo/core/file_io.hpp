// Small POSIX file helpers shared by everything that writes files durably (local storage, key
// files, restores, the admin token).
#pragma once

#include <cstddef>
#include <string>

namespace respaldo {

// Writes all `n` bytes, retrying short writes and EINTR. Returns 0, or the errno of the failure.
int write_fully(int fd, const void* data, std::size_t n);

// fsyncs the directory holding `path`, so a new or renamed entry survives a crash. Best effort:
// some file systems refuse fsync on directories, and the file's own fsync already succeeded.
void sync_parent_directory(const std::string& path);

}  // namespace respaldo
