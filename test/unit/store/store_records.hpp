// Records and sealed tokens shared by the store tests: what the store's callers would write.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "respaldo/crypto/crypto.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo::test {

// The key the tests seal app tokens with, as the store's callers do (crypto/token_seal.hpp).
inline const secret_box& test_box() {
  static const secret_box box = secret_box::generate();
  return box;
}
inline void set_token(app_record& a, const std::string& token) {
  a.token = token;
  a.sealed_token = test_box().seal(token, a.name);
}
inline std::string token_of(const app_record& a, const secret_box& box = test_box()) {
  return box.open(a.sealed_token, a.name).value_or("");
}

inline sys_seconds at(std::int64_t s) {
  return sys_seconds{std::chrono::seconds{s}};
}

inline app_record make_app(const std::string& name,
                           const std::string& token = "secreto-compartido") {
  app_record a;
  a.name = name;
  a.url = "http://" + name + ":8000";
  set_token(a, token);
  a.drive_folder_id = "1AbC2dEfG3";
  a.schedule = "0 3 * * *";
  a.retention.daily = 7;
  a.retention.weekly = 4;
  a.created_at = at(1'700'000'000);
  a.updated_at = at(1'700'000'000);
  return a;
}

inline job_record make_job(const std::string& id, const std::string& app,
                           job_kind kind = job_kind::backup, job_state state = job_state::queued) {
  job_record j;
  j.id = id;
  j.app = app;
  j.kind = kind;
  j.state = state;
  j.created_at = at(1'700'000'100);
  return j;
}

inline backup_record make_backup(const std::string& id, const std::string& app) {
  backup_record b;
  b.id = id;
  b.app = app;
  b.job_id = "job-" + id;
  b.created_at = at(1'700'000'200);
  b.size = 12345;
  b.sha256 = std::string(64, 'a');
  b.format = "tar.gz";
  b.storage = storage_kind::local;
  b.location = app + "/" + id + ".tar.gz";
  b.name = id + ".tar.gz";
  b.folder = "1AbC2dEfG3";
  return b;
}

}  // namespace respaldo::test
