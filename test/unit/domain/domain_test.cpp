#include <catch2/catch.hpp>

#include "respaldo/domain/app.hpp"
#include "respaldo/domain/backup.hpp"
#include "respaldo/domain/job.hpp"

using namespace respaldo;

namespace {

// Every value spells as the API and the database do, and parses back; other text does not parse.
template <class E, class Parse>
void check_spellings(std::initializer_list<std::pair<E, const char*>> table, Parse parse) {
  for (const auto& [value, text] : table) {
    INFO(text);
    CHECK(to_string(value) == text);
    CHECK(parse(text) == value);
  }
  CHECK_FALSE(parse("Bogus"));
}

}  // namespace

TEST_CASE("domain enums keep the API and database spellings", "[domain]") {
  check_spellings<job_state>({{job_state::queued, "queued"},
                              {job_state::running, "running"},
                              {job_state::succeeded, "succeeded"},
                              {job_state::failed, "failed"},
                              {job_state::cancelled, "cancelled"}},
                             parse_job_state);
  check_spellings<job_kind>({{job_kind::backup, "backup"}, {job_kind::verify, "verify"}},
                            parse_job_kind);
  check_spellings<job_trigger>(
      {{job_trigger::manual, "manual"}, {job_trigger::schedule, "schedule"}}, parse_job_trigger);
  check_spellings<job_phase>({{job_phase::none, ""},
                              {job_phase::probing, "probing"},
                              {job_phase::exporting, "exporting"},
                              {job_phase::uploading, "uploading"},
                              {job_phase::finalizing, "finalizing"},
                              {job_phase::pruning, "pruning"},
                              {job_phase::verifying, "verifying"}},
                             parse_job_phase);
  check_spellings<backup_status>({{backup_status::available, "available"},
                                  {backup_status::missing, "missing"},
                                  {backup_status::deleting, "deleting"},
                                  {backup_status::corrupt, "corrupt"},
                                  {backup_status::unverified, "unverified"}},
                                 parse_backup_status);
  check_spellings<verify_result>({{verify_result::passed, "passed"},
                                  {verify_result::corrupt, "corrupt"},
                                  {verify_result::missing, "missing"},
                                  {verify_result::failed, "failed"}},
                                 parse_verify_result);
  check_spellings<storage_kind>({{storage_kind::local, "local"}, {storage_kind::drive, "drive"}},
                                parse_storage_kind);
  check_spellings<health_status>({{health_status::unknown, "unknown"},
                                  {health_status::ok, "ok"},
                                  {health_status::unreachable, "unreachable"},
                                  {health_status::unauthorized, "unauthorized"},
                                  {health_status::invalid, "invalid"}},
                                 parse_health_status);
}

TEST_CASE("only available backups are good", "[domain]") {
  CHECK(is_good(backup_status::available));
  for (auto s : {backup_status::missing, backup_status::deleting, backup_status::corrupt,
                 backup_status::unverified})
    CHECK_FALSE(is_good(s));
}

TEST_CASE("domain records start as a new job or backup does", "[domain]") {
  job_record j;
  CHECK(j.kind == job_kind::backup);
  CHECK(j.trigger == job_trigger::manual);
  CHECK(j.state == job_state::queued);
  CHECK(j.phase == job_phase::none);
  backup_record b;
  CHECK(b.status == backup_status::available);
  app_record a;
  CHECK(a.health.status == health_status::unknown);
}
