#include "respaldo/api/download_link.hpp"

#include <catch2/catch.hpp>

namespace respaldo {

namespace {
using std::chrono::seconds;
const std::chrono::sys_seconds t0{seconds(1'800'000'000)};
const std::string key(32, 'k');
}  // namespace

TEST_CASE("a signed download link is valid for its backup until it expires", "[download-link]") {
  download_signer signer(key);
  const auto sig = signer.sign("b-1", t0 + seconds(300));
  CHECK(sig.rfind("1800000300.", 0) == 0);
  CHECK(sig.size() == 11 + 64);
  CHECK(signer.check("b-1", sig, t0) == link_verdict::valid);
  CHECK(signer.check("b-1", sig, t0 + seconds(299)) == link_verdict::valid);
  CHECK(signer.check("b-1", sig, t0 + seconds(300)) == link_verdict::expired);
  CHECK(signer.check("b-1", sig, t0 + seconds(3600)) == link_verdict::expired);
}

TEST_CASE("a signed download link opens no other backup and resists tampering", "[download-link]") {
  download_signer signer(key);
  const auto sig = signer.sign("b-1", t0 + seconds(300));
  CHECK(signer.check("b-2", sig, t0) == link_verdict::wrong);
  CHECK(signer.check("b-1x", sig, t0) == link_verdict::wrong);
  // A later expiry with the old MAC: the expiry is inside the signed text.
  std::string later = sig;
  later[9] = '9';
  CHECK(signer.check("b-1", later, t0) == link_verdict::wrong);
  std::string flipped = sig;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK(signer.check("b-1", flipped, t0) == link_verdict::wrong);
  // Another process (another key) does not accept it; nor an expired link with a forged MAC.
  download_signer other(std::string(32, 'o'));
  CHECK(other.check("b-1", sig, t0) == link_verdict::wrong);
  CHECK(signer.check("b-1", flipped, t0 + seconds(3600)) == link_verdict::wrong);
}

TEST_CASE("malformed download signatures are refused", "[download-link]") {
  download_signer signer(key);
  const std::string mac(64, 'a');
  for (std::string bad :
       {std::string(), std::string("abc"), "." + mac, "x." + mac, "-5." + mac,
        "1800000300." + mac.substr(1), "1800000300" + mac, "99999999999999999999." + mac})
    CHECK(signer.check("b-1", bad, t0) == link_verdict::malformed);
}

}  // namespace respaldo
