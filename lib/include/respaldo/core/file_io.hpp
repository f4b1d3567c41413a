// Small POSIX file helpers shared by everything that writes files durably (local storage, key
// files, restores, the admin token).
#pragma once

#include <cstddef>
#include <string>

#include "respaldo/core/error.hpp"

namespace respaldo {

// Writes all `n` bytes, retrying short writes and EINTR. A failure's code is the errno (generic
// category) and its message the errno's text.
outcome<void> write_fully(int fd, const void* data, std::size_t n);

// A failure for an errno: the code in the generic category, `what` followed by the errno's text.
failure errno_failure(int err, const std::string& what);

// fsyncs the directory holding `path`, so a new or renamed entry survives a crash. Best effort:
// some file systems refuse fsync on directories, and the file's own fsync already succeeded.
void sync_parent_directory(const std::string& path);

}  // namespace respaldo
