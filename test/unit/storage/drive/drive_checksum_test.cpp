// drive_storage's checks of what Drive says it stored, against the Drive double: SHA-256 when Drive
// gives it, else (with --drive-md5) its MD5 against the one computed in flight, else the file is
// kept unconfirmed.
#include <catch2/catch.hpp>

#include "storage/drive/drive_double_env.hpp"

using namespace respaldo::test::drive;

TEST_CASE("without sha256Checksum Drive's MD5 decides, without both the file is unconfirmed",
          "[drive_storage]") {
  env e(true);  // --drive-md5
  const std::string data = bytes_of(G + 77, 6);
  auto upload_with_md5 = [&](const std::string& app, const std::string& md5) {
    auto u = e.begin(e.request(app, data));
    CHECK(u->wants_md5());
    REQUIRE_FALSE(e.write(*u, std::string_view(data).substr(0, G)));
    u->expect_md5(md5);
    return e.finish(*u, std::string_view(data).substr(G));
  };
  SECTION("SHA-256 given: confirmed") {
    auto obj = upload_with_md5("withsha", respaldo::md5_hex(data));
    REQUIRE(obj);
    CHECK_FALSE(obj->unconfirmed);
  }
  SECTION("only MD5, matching the one computed in flight: confirmed") {
    e.fault(R"({"name":"omit_sha256","persistent":true})");
    auto obj = upload_with_md5("md5ok", respaldo::md5_hex(data));
    REQUIRE(obj);
    CHECK_FALSE(obj->unconfirmed);
    CHECK(obj->sha256.empty());
    CHECK(obj->md5 == respaldo::md5_hex(data));
    CHECK(e.list("md5ok").size() == 1);
  }
  SECTION("only MD5, and it differs: the file is deleted") {
    e.fault(R"({"name":"omit_sha256","persistent":true})");
    e.fault(R"({"name":"wrong_md5"})");
    auto obj = upload_with_md5("md5bad", respaldo::md5_hex(data));
    REQUIRE_FALSE(obj);
    CHECK(obj.error().code == errc::drive_checksum_mismatch);
    CHECK_THAT(obj.error().message, Catch::Contains("MD5") &&
                                        Catch::Contains(respaldo::md5_hex(data)) &&
                                        Catch::Contains("the file was deleted"));
    CHECK(e.list("md5bad").empty());
  }
  SECTION("neither checksum, also when asked again: kept, unconfirmed") {
    e.fault(R"({"name":"omit_checksums","persistent":true})");
    const auto gets = e.stat("gets");
    auto obj = upload_with_md5("nosums", respaldo::md5_hex(data));
    REQUIRE(obj);
    CHECK(obj->unconfirmed);
    CHECK(obj->size == data.size());
    CHECK(e.stat("gets") == gets + 1);  // asked once more before giving up
    CHECK(e.list("nosums").size() == 1);
  }
  SECTION("neither in the first answer, but the second has them: confirmed") {
    e.fault(R"({"name":"omit_checksums"})");
    auto obj = upload_with_md5("later", respaldo::md5_hex(data));
    REQUIRE(obj);
    CHECK_FALSE(obj->unconfirmed);
    CHECK(obj->sha256 == respaldo::sha256_hex(data));
  }
}

TEST_CASE("without --drive-md5 no MD5 is asked for, and an answer without SHA-256 is unconfirmed",
          "[drive_storage]") {
  env e;
  const std::string data = bytes_of(G + 5, 8);
  auto upload = [&](const std::string& app) {
    auto u = e.begin(e.request(app, data));
    CHECK_FALSE(u->wants_md5());
    REQUIRE_FALSE(e.write(*u, std::string_view(data).substr(0, G)));
    return e.finish(*u, std::string_view(data).substr(G));
  };
  SECTION("SHA-256 given: confirmed") {
    auto obj = upload("plainsha");
    REQUIRE(obj);
    CHECK_FALSE(obj->unconfirmed);
    CHECK(obj->sha256 == respaldo::sha256_hex(data));
  }
  SECTION("only MD5: kept unconfirmed (the job then verifies it by reading it back)") {
    e.fault(R"({"name":"omit_sha256","persistent":true})");
    auto obj = upload("plainmd5");
    REQUIRE(obj);
    CHECK(obj->unconfirmed);
    CHECK(obj->md5 == respaldo::md5_hex(data));
    CHECK(e.list("plainmd5").size() == 1);
  }
}
