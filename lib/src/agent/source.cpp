#include "respaldo/agent/source.hpp"

namespace respaldo {

namespace {

// Paths are archived relative to / (tar -C /), so the archive holds no absolute names and
// extracting it into an empty directory recreates the tree below it.
std::string relative_to_root(const std::string& path) {
  std::size_t i = 0;
  while (i < path.size() && path[i] == '/') ++i;
  return i == path.size() ? std::string(".") : path.substr(i);
}

}  // namespace

source_plan plan_source(const agent_config& cfg) {
  source_plan p;
  switch (cfg.source) {
    case agent_source::command:
      p.spec.argv = {"/bin/sh", "-c", cfg.command};
      p.types = {"custom"};
      break;
    case agent_source::tar:
      // --sparse keeps holes; --numeric-owner keeps owners as ids, valid in any image.
      p.spec.argv = {"tar", "--create", "--file=-", "--sparse", "--numeric-owner", "--directory=/"};
      for (const auto& x : cfg.excludes) p.spec.argv.push_back("--exclude=" + x);
      p.spec.argv.push_back("--");
      for (const auto& path : cfg.paths) p.spec.argv.push_back(relative_to_root(path));
      p.types = {"files"};
      p.exit_one_is_warning = true;
      break;
    case agent_source::postgres:
      // Custom format: compressed, and pg_restore can pick objects from it.
      p.spec.argv = {"pg_dump", "--format=custom", "--no-password"};
      if (!cfg.pg_url.empty()) p.spec.argv.push_back("--dbname=" + cfg.pg_url);
      p.types = {"db"};
      break;
    case agent_source::mariadb:
      // The option file must come first (a client rule); the password stays in it, off argv.
      p.spec.argv = {"mariadb-dump"};
      if (!cfg.mariadb_defaults_file.empty())
        p.spec.argv.push_back("--defaults-extra-file=" + cfg.mariadb_defaults_file);
      for (const char* a : {"--single-transaction", "--routines", "--events"})
        p.spec.argv.emplace_back(a);
      // One database is dumped without CREATE DATABASE, so it restores into any database.
      p.spec.argv.push_back(cfg.database.empty() ? "--all-databases" : cfg.database);
      p.types = {"db"};
      p.gzip = true;
      break;
  }
  return p;
}

}  // namespace respaldo
