// `respaldo restore BACKUP_ID --output FILE [--force]`: the file appears only once its size and
// SHA-256 match what the catalog announced. A backup marked corrupt is refused unless --force
// (which also lets FILE be replaced).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ostream>

#include "respaldo/cli/cli_client.hpp"
#include "respaldo/cli/commands.hpp"
#include "respaldo/cli/render.hpp"
#include "respaldo/core/file_io.hpp"

namespace respaldo::cli {

namespace {

namespace json = boost::json;

// Why a finished download cannot become the output file, or "" when it can.
std::string download_problem(const download_result& d, const std::string& id,
                             const std::string& output) {
  if (!d.header_problem.empty()) return "cannot restore backup " + id + ": " + d.header_problem;
  if (!d.write_error.empty()) return d.write_error + "; nothing written to " + output;
  if (!d.complete)
    return "the download of backup " + id + " broke off after " + std::to_string(d.received) +
           " of " + std::to_string(d.expected_size) + " bytes: " + d.stream_error +
           " (the server cuts the stream when the stored file no longer matches its checksum);"
           " nothing written to " +
           output;
  if (d.received != d.expected_size || d.sha256 != d.expected_sha256)
    return "backup " + id + " does not match what the server announced: X-Size " +
           std::to_string(d.expected_size) + ", received " + std::to_string(d.received) +
           " bytes; X-Checksum-SHA256 " + d.expected_sha256 + ", received bytes hash to " +
           d.sha256 + "; nothing written to " + output;
  return "";
}

// Makes the verified `partial` the output file (fsync, rename, fsync of the directory).
int commit_file(int fd, const std::string& partial, const std::string& output, std::ostream& err) {
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(partial.c_str());
    err << "error: cannot write " << partial << ": " << why << "\n";
    return client_exit_failed;
  }
  if (::rename(partial.c_str(), output.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(partial.c_str());
    err << "error: cannot rename " << partial << " to " << output << ": " << why << "\n";
    return client_exit_failed;
  }
  sync_parent_directory(output);
  return client_exit_ok;
}

// The --output of the command line, or the exit status when it is missing or unusable.
std::optional<int> check_output(const command_line& a, const std::string*& output,
                                std::ostream& err) {
  output = a.value("--output");
  if (!output) output = a.value("-o");
  if (!output || output->empty())
    return usage_error(err, "restore", "missing --output FILE (where the backup is written)");
  if (a.value("--output") && a.value("-o"))
    return usage_error(err, "restore", "option --output given more than once (-o is --output)");
  struct stat st {};
  if (::stat(output->c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return value_error(err, "restore", "--output: " + *output + " is a directory");
    if (!a.flag("--force"))
      return value_error(err, "restore",
                         "--output: " + *output + " already exists (--force replaces it)");
  }
  return std::nullopt;
}

// A backup a verification found corrupt is refused unless --force: its bytes are not the ones
// the app exported. Returns the exit status when the restore must not go on.
std::optional<int> refuse_untrusted(client_transport& api, const std::string& id, bool force,
                                    std::ostream& err) {
  // Whatever stops this look-up (an unknown id, no server) stops the download too, which
  // reports it; the download checks the bytes in any case.
  const auto reply = api.get("/api/backups/" + encode(id));
  if (!success(reply)) return std::nullopt;
  const auto backup = parse_object(reply.body);
  if (!backup) return std::nullopt;
  const std::string status = text(*backup, "status");
  if (status != "corrupt" || force) return std::nullopt;
  std::string found;
  if (const auto* m = object_field(*backup, "mismatch"))
    found = " (a verification at " + text(*m, "detected_at") + " read SHA-256 " +
            text(*m, "found_sha256") + ", the catalog has " + text(*m, "expected_sha256") + ")";
  err << "error: backup " << id << " has status " << status << found
      << "; restore another backup, or add --force to try this one anyway\n";
  return client_exit_failed;
}

int restore(const client_settings& s, client_transport& api, const std::string& id,
            const std::string& output, bool force, std::ostream& out, std::ostream& err) {
  if (auto refused = refuse_untrusted(api, id, force, err)) return *refused;
  const std::string partial = output + ".partial";
  // Backups may hold anything the app keeps: only the owner may read the restored file.
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    err << "error: cannot create " << partial << ": " << std::strerror(errno) << "\n";
    return client_exit_failed;
  }
  auto d = api.download("/api/backups/" + encode(id) + "/content", fd, partial);
  const std::string problem = d.ok_status ? download_problem(d, id, output) : "";
  if (!d.ok_status || !problem.empty()) {
    ::close(fd);
    ::unlink(partial.c_str());
    if (!d.ok_status) return report_failure(s, d.reply, err);
    err << "error: " << problem << "\n";
    return client_exit_failed;
  }
  if (int rc = commit_file(fd, partial, output, err)) return rc;
  if (s.json) {
    json::object done{{"backup_id", id},
                      {"path", output},
                      {"size", d.received},
                      {"sha256", d.sha256},
                      {"format", d.format}};
    out << json::serialize(done) << "\n";
  } else {
    out << "restored backup " << id << " to " << output << ": " << human_bytes(d.received) << " ("
        << d.received << " bytes), sha256 " << d.sha256 << " verified\n";
  }
  return client_exit_ok;
}

}  // namespace

int restore_backup(const client_settings& s, client_transport& api, const std::string& id,
                   const std::string& output, bool force, std::ostream& out, std::ostream& err) {
  return restore(s, api, id, output, force, out, err);
}

int restore_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  command_line a;
  const std::vector<option_spec> extra{{"--output", true}, {"-o", true}, {"--force", false}};
  if (auto done = parse_command(args, 0, extra, 1, "restore", "BACKUP_ID", a, out, err))
    return *done;
  const std::string* output = nullptr;
  if (auto done = check_output(a, output, err)) return *done;

  client_settings settings;
  if (int rc = load_settings(a, "restore", settings, err)) return rc;
  const auto api = make_http_transport(settings);
  return restore(settings, *api, a.positional[0], *output, a.flag("--force"), out, err);
}

}  // namespace respaldo::cli
