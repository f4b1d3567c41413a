// POST /api/backups/{id}/drills: reports are validated field by field, kept, and shown in the
// backup and the app.
#include <catch2/catch.hpp>

#include "api_fixture.hpp"

namespace {

using respaldo::test::api_fixture;
using respaldo::test::body_of;
using respaldo::test::code_of;
using respaldo::test::field_of;

}  // namespace

TEST_CASE("api: a reported drill is kept and shown in the backup and the app", "[api][drills]") {
  api_fixture f;
  f.register_app("mi-app");
  f.add_backup("mi-app", "b1", "bytes");
  auto res = f.post("/api/backups/b1/drills",
                    R"({"target":"postgres","passed":true,"duration_seconds":2.5,"tables":4,)"
                    R"("rows":500123})");
  REQUIRE(res.status == 201);
  auto drill = body_of(res);
  CHECK(drill.at("backup_id") == "b1");
  CHECK(drill.at("app") == "mi-app");
  CHECK(drill.at("passed") == true);
  CHECK(drill.at("rows") == 500123);
  CHECK(drill.at("duration_seconds") == 2.5);
  CHECK(drill.at("error").is_null());

  f.clock.advance(std::chrono::hours(1));
  res = f.post("/api/backups/b1/drills",
               R"({"target":"postgres","passed":false,"error":"pg_restore failed"})");
  REQUIRE(res.status == 201);

  auto backup = body_of(f.get("/api/backups/b1"));
  const auto& drills = backup.at("drills").as_array();
  REQUIRE(drills.size() == 2);
  CHECK(drills[0].at("passed") == false);  // newest first
  CHECK(drills[0].at("error") == "pg_restore failed");
  CHECK(drills[1].at("id") == drill.at("id"));

  auto app = body_of(f.get("/api/apps/mi-app"));
  CHECK(app.at("last_drill").at("passed") == false);
  CHECK(app.at("last_drill_success_at") == drill.at("reported_at"));
}

TEST_CASE("api: drill reports are refused field by field", "[api][drills]") {
  api_fixture f;
  f.register_app("mi-app");
  f.add_backup("mi-app", "b1", "bytes");
  struct refusal {
    const char* body;
    const char* field;
  };
  for (const auto& r : {refusal{R"({"passed":true})", "target"},
                        refusal{R"({"target":"oracle","passed":true})", "target"},
                        refusal{R"({"target":"postgres"})", "passed"},
                        refusal{R"({"target":"postgres","passed":"yes"})", "passed"},
                        refusal{R"({"target":"postgres","passed":false})", "error"},
                        refusal{R"({"target":"postgres","passed":true,"rows":-1})", "rows"},
                        refusal{R"({"target":"postgres","passed":true,"duration_seconds":"x"})",
                                "duration_seconds"},
                        refusal{R"({"target":"postgres","passed":true,"colour":1})", "colour"}}) {
    INFO(r.body);
    auto res = f.post("/api/backups/b1/drills", r.body);
    CHECK(res.status == 422);
    CHECK(code_of(res) == "validation_failed");
    CHECK(field_of(res) == r.field);
  }
  auto res = f.post("/api/backups/nope/drills", R"({"target":"postgres","passed":true})");
  CHECK(res.status == 404);
  CHECK(code_of(res) == "backup_not_found");
  CHECK(body_of(f.get("/api/backups/b1")).at("drills").as_array().empty());
  CHECK(body_of(f.get("/api/apps/mi-app")).at("last_drill").is_null());
}
