#include "respaldo/crypto/crypto.hpp"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/temp_files.hpp"

namespace {

using respaldo::secret_box;

struct pkey_free {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

using respaldo::test::temp_dir;

void write_file(const std::string& path, std::string_view content, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    REQUIRE(out.good());
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t file_mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string random_bytes(std::size_t n, std::mt19937& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

enum class pem_kind { pkcs8, traditional, pkcs8_encrypted, public_key };

std::string export_pem(EVP_PKEY* key, pem_kind kind) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  REQUIRE(bio);
  int ok = 0;
  switch (kind) {
    case pem_kind::pkcs8:
      ok = PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case pem_kind::traditional:
      ok = PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                nullptr);
      break;
    case pem_kind::pkcs8_encrypted: {
      char pass[] = "correct horse";
      ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), pass,
                                         static_cast<int>(sizeof pass - 1), nullptr, nullptr);
      break;
    }
    case pem_kind::public_key:
      ok = PEM_write_bio_PUBKEY(bio.get(), key);
      break;
  }
  REQUIRE(ok == 1);
  return bio_string(bio.get());
}

// RSA key generation is slow: one 2048-bit key pair for all tests.
EVP_PKEY* test_rsa_key() {
  static pkey_ptr key(EVP_RSA_gen(2048));
  REQUIRE(key);
  return key.get();
}

std::vector<std::string> split_jwt(const std::string& jwt) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto dot = jwt.find('.', start);
    parts.push_back(jwt.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

boost::json::value decode_json_part(const std::string& part) {
  const auto text = respaldo::base64url_decode(part);
  REQUIRE(text);
  return boost::json::parse(*text);
}

}  // namespace

TEST_CASE("sha256 known vectors", "[crypto]") {
  CHECK(respaldo::sha256_hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(respaldo::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(respaldo::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

  respaldo::sha256 h;
  h.update("abc");
  const auto raw = h.finish();
  CHECK(respaldo::to_hex(raw.data(), raw.size()) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // finish() resets: the next use hashes a fresh input.
  CHECK(h.finish_hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  h.update("a");
  h.update(std::string_view("bc"));
  CHECK(h.finish_hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("sha256 streams a million bytes in odd chunks like one shot", "[crypto]") {
  // FIPS 180-2 vector: one million 'a'.
  const std::string million(1'000'000, 'a');
  const std::string expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  REQUIRE(respaldo::sha256_hex(million) == expected);

  const std::size_t chunk_sizes[] = {1, 7, 63, 64, 65, 4093, 65537, 0, 3};
  respaldo::sha256 h;
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < million.size(); ++i) {
    const std::size_t n = std::min(chunk_sizes[i % std::size(chunk_sizes)], million.size() - pos);
    h.update(million.data() + pos, n);
    pos += n;
  }
  CHECK(h.finish_hex() == expected);

  // Arbitrary binary content: streamed equals one shot.
  std::mt19937 rng(42);
  const std::string data = random_bytes(1 << 20, rng);
  respaldo::sha256 s;
  pos = 0;
  for (std::size_t i = 0; pos < data.size(); ++i) {
    const std::size_t n = std::min<std::size_t>(1 + (i * 7919) % 10007, data.size() - pos);
    s.update(std::string_view(data).substr(pos, n));
    pos += n;
  }
  CHECK(s.finish_hex() == respaldo::sha256_hex(data));
}

TEST_CASE("digests move with their state and moved-from objects start over", "[crypto]") {
  respaldo::sha256 a;
  a.update("ab");
  respaldo::sha256 b(std::move(a));
  b.update("c");
  CHECK(b.finish_hex() == respaldo::sha256_hex("abc"));
  a.update("abc");  // NOLINT(bugprone-use-after-move): documented to start a fresh hash
  CHECK(a.finish_hex() == respaldo::sha256_hex("abc"));

  respaldo::md5 m;
  m.update("ab");
  respaldo::md5 n;
  n = std::move(m);
  n.update("c");
  CHECK(n.finish_hex() == "900150983cd24fb0d6963f7d28e17f72");
}

TEST_CASE("md5 known vectors", "[crypto]") {
  CHECK(respaldo::md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(respaldo::md5_hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
  respaldo::md5 h;
  h.update("The quick brown fox ");
  h.update("jumps over the lazy dog");
  const auto raw = h.finish();
  CHECK(raw.size() == 16);
  CHECK(respaldo::to_hex(raw.data(), raw.size()) == "9e107d9d372bb6826bd81d3542a419d6");
  CHECK(h.finish_hex() == "d41d8cd98f00b204e9800998ecf8427e");
}

TEST_CASE("hex helpers", "[crypto]") {
  const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  CHECK(respaldo::to_hex(bytes, sizeof bytes) == "00017f80abff");
  CHECK(respaldo::to_hex(bytes, 0).empty());

  const std::string lower(64, 'a');
  CHECK(respaldo::is_sha256_hex(lower));
  CHECK(
      respaldo::is_sha256_hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  CHECK(respaldo::is_sha256_hex(respaldo::sha256_hex("x")));
  CHECK_FALSE(respaldo::is_sha256_hex(""));
  CHECK_FALSE(respaldo::is_sha256_hex(std::string(63, 'a')));
  CHECK_FALSE(respaldo::is_sha256_hex(std::string(65, 'a')));
  CHECK_FALSE(respaldo::is_sha256_hex(std::string(63, 'a') + "g"));
  CHECK_FALSE(respaldo::is_sha256_hex(std::string(63, 'a') + " "));
  CHECK_FALSE(respaldo::is_sha256_hex(std::string(63, 'a') + '\0'));
  CHECK_FALSE(respaldo::is_sha256_hex(" " + std::string(63, 'a')));
}

TEST_CASE("constant_time_equal", "[crypto]") {
  CHECK(respaldo::constant_time_equal("", ""));
  CHECK(respaldo::constant_time_equal("secret-token", "secret-token"));
  CHECK_FALSE(respaldo::constant_time_equal("secret-token", "secret-tokeN"));
  CHECK_FALSE(respaldo::constant_time_equal("secret-token", "Secret-token"));
  CHECK_FALSE(respaldo::constant_time_equal("secret-token", "secret-token "));
  CHECK_FALSE(respaldo::constant_time_equal("secret-token", ""));
  CHECK_FALSE(respaldo::constant_time_equal("", "x"));
  using namespace std::string_view_literals;
  CHECK(respaldo::constant_time_equal("a\0b"sv, "a\0b"sv));
  CHECK_FALSE(respaldo::constant_time_equal("a\0b"sv, "a\0c"sv));
}

TEST_CASE("base64 and base64url encodings", "[crypto]") {
  SECTION("RFC 4648 vectors") {
    const std::pair<const char*, const char*> url[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : url) {
      CHECK(respaldo::base64url_encode(plain) == encoded);
      CHECK(respaldo::base64url_decode(encoded) == std::optional<std::string>(plain));
    }
    CHECK(respaldo::base64_encode("") == "");
    CHECK(respaldo::base64_encode("f") == "Zg==");
    CHECK(respaldo::base64_encode("fo") == "Zm8=");
    CHECK(respaldo::base64_encode("foo") == "Zm9v");
    CHECK(respaldo::base64_encode("foobar") == "Zm9vYmFy");
  }
  SECTION("the two alphabets differ in 62 and 63") {
    const std::string bytes = "\xfb\xff\xbf";
    CHECK(respaldo::base64url_encode(bytes) == "-_-_");
    CHECK(respaldo::base64_encode(bytes) == "+/+/");
    CHECK(respaldo::base64url_encode("\xfb\xff") == "-_8");
    CHECK(respaldo::base64_encode("\xfb\xff") == "+/8=");
  }
  SECTION("round trips at every length up to 100 and for all byte values") {
    std::mt19937 rng(7);
    for (std::size_t n = 0; n <= 100; ++n) {
      const std::string data = random_bytes(n, rng);
      const std::string enc = respaldo::base64url_encode(data);
      CHECK(enc.size() == (4 * n + 2) / 3);
      CHECK(enc.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
            std::string::npos);
      CHECK(respaldo::base64url_decode(enc) == std::optional<std::string>(data));
      CHECK(respaldo::base64_encode(data).size() == (n + 2) / 3 * 4);
    }
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    CHECK(respaldo::base64url_decode(respaldo::base64url_encode(all)) ==
          std::optional<std::string>(all));
  }
  SECTION("invalid input is rejected") {
    const char* bad[] = {
        "Z",         // one char cannot encode a byte
        "Zm9vY",     // nor can 4n+1 chars
        "Zg==",      // padding is not part of base64url here
        "Zg=",       //
        "Zm9v!",     // character outside the alphabet
        "Zm 9v",     // whitespace
        "Zm9v\n",    //
        "+/8",       // standard alphabet
        "Zh",        // non-zero unused bits: not the canonical encoding of "f"
        "Zm9",       // ditto for "fo"
        "\xc3\xa9",  // non-ASCII
    };
    for (const char* text : bad) {
      INFO(text);
      CHECK_FALSE(respaldo::base64url_decode(text).has_value());
    }
    using namespace std::string_view_literals;
    CHECK_FALSE(respaldo::base64url_decode("Zm\0v"sv).has_value());
    CHECK(respaldo::base64url_decode("") == std::optional<std::string>(""));
  }
}

TEST_CASE("random_token", "[crypto]") {
  const std::string token = respaldo::random_token();
  CHECK(token.size() == 43);
  const auto raw = respaldo::base64url_decode(token);
  REQUIRE(raw);
  CHECK(raw->size() == 32);
  CHECK(respaldo::random_token(16).size() == 22);
  CHECK(respaldo::random_token(1).size() == 2);
  CHECK(respaldo::random_token(0).empty());

  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string t = respaldo::random_token();
    CHECK(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    seen.insert(t);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("secret_box seals and opens", "[crypto]") {
  const secret_box box = secret_box::generate();
  const std::string secret = "tok_live_4f9a8b7c6d5e";

  SECTION("round trip, format and size") {
    const std::string sealed = box.seal(secret, "mi-app");
    REQUIRE(sealed.starts_with("v1."));
    const auto raw = respaldo::base64url_decode(std::string_view(sealed).substr(3));
    REQUIRE(raw);
    CHECK(raw->size() == secret_box::nonce_size + secret.size() + secret_box::tag_size);
    CHECK(box.open(sealed, "mi-app") == std::optional<std::string>(secret));
    // The ciphertext reveals none of the plaintext, neither in the text nor in the raw bytes.
    CHECK(sealed.find(secret) == std::string::npos);
    CHECK(raw->find(secret) == std::string::npos);
    CHECK(raw->find("tok_live") == std::string::npos);
    // A copy of the box (same key) opens it too.
    const secret_box copy = box;
    CHECK(copy.open(sealed, "mi-app") == std::optional<std::string>(secret));
  }
  SECTION("empty, binary and large plaintexts") {
    using namespace std::string_view_literals;
    const std::string binary(std::string_view("\0\x01\xff\0zz"sv));
    CHECK(box.open(box.seal("", "a"), "a") == std::optional<std::string>(""));
    CHECK(box.open(box.seal(binary, ""), "") == std::optional<std::string>(binary));
    const std::string large(3 << 20, 'x');
    CHECK(box.open(box.seal(large, "big"), "big") == std::optional<std::string>(large));
  }
  SECTION("a fresh nonce for every seal") {
    const std::string a = box.seal(secret, "mi-app");
    const std::string b = box.seal(secret, "mi-app");
    CHECK(a != b);
    const auto ra = respaldo::base64url_decode(std::string_view(a).substr(3));
    const auto rb = respaldo::base64url_decode(std::string_view(b).substr(3));
    REQUIRE(ra);
    REQUIRE(rb);
    CHECK(ra->substr(0, secret_box::nonce_size) != rb->substr(0, secret_box::nonce_size));
    CHECK(box.open(a, "mi-app") == box.open(b, "mi-app"));
  }
  SECTION("every flipped byte is detected: nonce, ciphertext and tag") {
    const std::string sealed = box.seal(secret, "mi-app");
    const std::string raw = *respaldo::base64url_decode(std::string_view(sealed).substr(3));
    for (std::size_t i = 0; i < raw.size(); ++i) {
      std::string bad = raw;
      bad[i] = static_cast<char>(bad[i] ^ 0x01);
      INFO("byte " << i);
      CHECK_FALSE(box.open("v1." + respaldo::base64url_encode(bad), "mi-app").has_value());
    }
    // Also altered at the text level, truncated or extended.
    std::string text = sealed;
    text[10] = text[10] == 'A' ? 'B' : 'A';
    CHECK_FALSE(box.open(text, "mi-app").has_value());
    CHECK_FALSE(
        box.open("v1." + respaldo::base64url_encode(raw.substr(0, raw.size() - 1)), "mi-app")
            .has_value());
    CHECK_FALSE(box.open("v1." + respaldo::base64url_encode(raw + "x"), "mi-app").has_value());
  }
  SECTION("wrong aad, wrong key, malformed input") {
    const std::string sealed = box.seal(secret, "mi-app");
    CHECK_FALSE(box.open(sealed, "otra-app").has_value());
    CHECK_FALSE(box.open(sealed, "").has_value());
    CHECK_FALSE(box.open(sealed, "mi-app ").has_value());
    CHECK_FALSE(secret_box::generate().open(sealed, "mi-app").has_value());
    std::array<unsigned char, secret_box::key_size> zero{};
    CHECK_FALSE(secret_box(zero).open(sealed, "mi-app").has_value());

    CHECK_FALSE(box.open("", "mi-app").has_value());
    CHECK_FALSE(box.open("v1.", "mi-app").has_value());
    CHECK_FALSE(box.open("v2." + sealed.substr(3), "mi-app").has_value());
    CHECK_FALSE(box.open(sealed.substr(3), "mi-app").has_value());
    CHECK_FALSE(box.open("v1.!!!!", "mi-app").has_value());
    // Shorter than nonce and tag together.
    CHECK_FALSE(
        box.open("v1." + respaldo::base64url_encode(std::string(27, 'a')), "mi-app").has_value());
  }
  SECTION("a fixed key opens what it sealed, in another instance") {
    std::array<unsigned char, secret_box::key_size> key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(i);
    const std::string sealed = secret_box(key).seal(secret, "row-7");
    CHECK(secret_box(key).open(sealed, "row-7") == std::optional<std::string>(secret));
  }
}

TEST_CASE("secret_box derives keys per purpose", "[crypto]") {
  std::array<unsigned char, secret_box::key_size> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(i);
  const std::string links = secret_box(key).derive_key("download-links");
  CHECK(respaldo::is_sha256_hex(links));
  // The same key file gives the same key in another process; another purpose or key does not.
  CHECK(secret_box(key).derive_key("download-links") == links);
  CHECK(secret_box(key).derive_key("other") != links);
  CHECK(secret_box::generate().derive_key("download-links") != links);
  // It is an HMAC under the key, never the key itself.
  CHECK(links != respaldo::to_hex(key.data(), key.size()));
  CHECK(links == respaldo::hmac_sha256_hex(
                     std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
                     "respaldo derived key\ndownload-links"));
}

TEST_CASE("secret_box key files", "[crypto]") {
  temp_dir dir;
  const std::string path = dir.file("secret.key");

  SECTION("created with mode 0600 and reloaded with the same key") {
    auto created = secret_box::load_or_create(path, true);
    REQUIRE(created.has_value());
    CHECK(file_mode(path) == 0600);
    const std::string content = read_file(path);
    REQUIRE(content.size() == 65);
    CHECK(content.back() == '\n');
    CHECK(respaldo::is_sha256_hex(content.substr(0, 64)));  // 64 hex digits

    const std::string sealed = created->seal("hunter2", "mi-app");
    auto reloaded = secret_box::load_or_create(path, false);
    REQUIRE(reloaded.has_value());
    CHECK(reloaded->open(sealed, "mi-app") == std::optional<std::string>("hunter2"));
    auto again = secret_box::load_or_create(path, true);  // exists: loaded, not replaced
    REQUIRE(again.has_value());
    CHECK(read_file(path) == content);
    CHECK(again->open(sealed, "mi-app") == std::optional<std::string>("hunter2"));
  }
  SECTION("two creations in different places give different keys") {
    auto a = secret_box::load_or_create(path, true);
    auto b = secret_box::load_or_create(dir.file("other.key"), true);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(read_file(path) != read_file(dir.file("other.key")));
    CHECK_FALSE(b->open(a->seal("x", ""), "").has_value());
  }
  SECTION("raw 32-byte and hex key files, either case, with or without newline") {
    std::array<unsigned char, secret_box::key_size> key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(0xa0 + i);
    const std::string sealed = secret_box(key).seal("pw", "app");
    const std::string hex = respaldo::to_hex(key.data(), key.size());
    std::string upper = hex;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string contents[] = {std::string(key.begin(), key.end()), hex, hex + "\n",
                                    upper + "\n", hex + "\r\n"};
    for (const auto& content : contents) {
      write_file(path, content, 0600);
      auto box = secret_box::load_or_create(path, false);
      REQUIRE(box.has_value());
      CHECK(box->open(sealed, "app") == std::optional<std::string>("pw"));
    }
    write_file(path, std::string(key.begin(), key.end()), 0400);  // read-only is fine
    CHECK(secret_box::load_or_create(path, false).has_value());
  }
  SECTION("missing file without create") {
    auto r = secret_box::load_or_create(path, false);
    REQUIRE(r.has_error());
    CHECK_THAT(r.error().message, Catch::Contains(path) && Catch::Contains("does not exist"));
    CHECK_FALSE(std::filesystem::exists(path));
  }
  SECTION("wrong sizes and formats are rejected, naming the path but not the content") {
    const std::string hex = std::string(64, 'c');
    const std::string contents[] = {"",
                                    "short-secret",
                                    std::string(31, 'k'),
                                    std::string(33, 'k'),
                                    hex.substr(0, 63) + "\n",
                                    hex + "\n\n",
                                    hex + "0",
                                    std::string(63, 'c') + "g",
                                    std::string(4096, 'z'),
                                    " " + hex};
    for (const auto& content : contents) {
      INFO("size " << content.size());
      write_file(path, content, 0600);
      auto r = secret_box::load_or_create(path, true);
      REQUIRE(r.has_error());
      CHECK_THAT(r.error().message,
                 Catch::Contains(path) && Catch::Contains("expected 32 raw bytes"));
      if (content.size() >= 8)
        CHECK(r.error().message.find(content.substr(0, 8)) == std::string::npos);
      CHECK(read_file(path) == content);  // never overwritten
    }
  }
  SECTION("group or other access is rejected") {
    auto created = secret_box::load_or_create(path, true);
    REQUIRE(created.has_value());
    const std::string content = read_file(path);
    for (const mode_t mode : {0644, 0640, 0604, 0660, 0620, 0602, 0700 | 0004}) {
      REQUIRE(::chmod(path.c_str(), mode) == 0);
      auto r = secret_box::load_or_create(path, true);
      INFO("mode " << std::oct << mode);
      REQUIRE(r.has_error());
      CHECK_THAT(r.error().message, Catch::Contains(path) && Catch::Contains("too open"));
      CHECK(r.error().message.find(content.substr(0, 16)) == std::string::npos);
    }
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    CHECK(secret_box::load_or_create(path, false).has_value());
  }
  SECTION("not a regular file, unreachable places") {
    auto r = secret_box::load_or_create(dir.path.string(), true);
    REQUIRE(r.has_error());
    CHECK_THAT(r.error().message, Catch::Contains(dir.path.string()));
    // The directory itself has 0700 from mkdtemp, so the complaint is about the file type.
    CHECK_THAT(r.error().message, Catch::Contains("not a regular file"));

    const std::string nested = dir.file("no/such/dir/secret.key");
    auto n = secret_box::load_or_create(nested, true);
    REQUIRE(n.has_error());
    CHECK_THAT(n.error().message, Catch::Contains(nested) && Catch::Contains("No such file"));
  }
  SECTION("an unreadable file") {
    if (::geteuid() == 0) return;  // root reads anything
    write_file(path, std::string(32, 'k'), 0000);
    auto r = secret_box::load_or_create(path, true);
    REQUIRE(r.has_error());
    CHECK_THAT(r.error().message, Catch::Contains(path) && Catch::Contains("cannot open"));
  }
}

TEST_CASE("RS256 JWT signing and verification", "[crypto]") {
  EVP_PKEY* key = test_rsa_key();
  const std::string private_pem = export_pem(key, pem_kind::pkcs8);
  const std::string public_pem = export_pem(key, pem_kind::public_key);
  REQUIRE(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));

  const boost::json::object claims{
      {"iss", "backup@proj.iam.gserviceaccount.com"},
      {"scope", "https://www.googleapis.com/auth/drive"},
      {"aud", "https://oauth2.googleapis.com/token"},
      {"iat", 1767225600},
      {"exp", 1767229200},
  };

  auto jwt = respaldo::sign_jwt_rs256(private_pem, "k3y-1d", claims);
  REQUIRE(jwt.has_value());
  const auto parts = split_jwt(*jwt);
  REQUIRE(parts.size() == 3);
  CHECK(jwt->find('=') == std::string::npos);

  SECTION("header, claims and signature") {
    const boost::json::value header = decode_json_part(parts[0]);
    CHECK(header == boost::json::value{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "k3y-1d"}});
    CHECK(*respaldo::base64url_decode(parts[0]) == R"({"alg":"RS256","typ":"JWT","kid":"k3y-1d"})");
    CHECK(decode_json_part(parts[1]) == boost::json::value(claims));
    const auto sig = respaldo::base64url_decode(parts[2]);
    REQUIRE(sig);
    CHECK(sig->size() == 256);  // 2048-bit modulus
    CHECK(respaldo::verify_jwt_rs256(*jwt, public_pem));
  }
  SECTION("the signature is PKCS#1 v1.5 over SHA-256 of header.claims") {
    // Checked with the raw public-key operation, independent of the JWT code's digest calls.
    const std::string signing_input = parts[0] + "." + parts[1];
    const auto digest = [&] {
      respaldo::sha256 h;
      h.update(signing_input);
      return h.finish();
    }();
    const std::string sig = *respaldo::base64url_decode(parts[2]);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr), &EVP_PKEY_CTX_free);
    REQUIRE(ctx);
    REQUIRE(EVP_PKEY_verify_init(ctx.get()) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1);
    CHECK(EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          digest.data(), digest.size()) == 1);
  }
  SECTION("no kid header when kid is empty") {
    auto no_kid = respaldo::sign_jwt_rs256(private_pem, "", claims);
    REQUIRE(no_kid.has_value());
    const auto p = split_jwt(*no_kid);
    REQUIRE(p.size() == 3);
    CHECK(decode_json_part(p[0]) == boost::json::value{{"alg", "RS256"}, {"typ", "JWT"}});
    CHECK(respaldo::verify_jwt_rs256(*no_kid, public_pem));
  }
  SECTION("traditional RSA PEM gives the same deterministic signature") {
    const std::string traditional = export_pem(key, pem_kind::traditional);
    REQUIRE(traditional.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    auto again = respaldo::sign_jwt_rs256(traditional, "k3y-1d", claims);
    REQUIRE(again.has_value());
    CHECK(*again == *jwt);
  }
  SECTION("tampered tokens fail verification") {
    boost::json::object forged = claims;
    forged["scope"] = "https://www.googleapis.com/auth/cloud-platform";
    const std::string forged_claims = respaldo::base64url_encode(boost::json::serialize(forged));
    CHECK_FALSE(
        respaldo::verify_jwt_rs256(parts[0] + "." + forged_claims + "." + parts[2], public_pem));
    // A changed header (kid) breaks the signature too.
    const std::string other_header =
        respaldo::base64url_encode(R"({"alg":"RS256","typ":"JWT","kid":"other"})");
    CHECK_FALSE(
        respaldo::verify_jwt_rs256(other_header + "." + parts[1] + "." + parts[2], public_pem));
    // Flipped signature bits.
    std::string sig = *respaldo::base64url_decode(parts[2]);
    sig[100] = static_cast<char>(sig[100] ^ 0x40);
    CHECK_FALSE(respaldo::verify_jwt_rs256(
        parts[0] + "." + parts[1] + "." + respaldo::base64url_encode(sig), public_pem));
    // alg "none" with the signature stripped.
    const std::string none = respaldo::base64url_encode(R"({"alg":"none","typ":"JWT"})");
    CHECK_FALSE(respaldo::verify_jwt_rs256(none + "." + parts[1] + ".", public_pem));
  }
  SECTION("malformed tokens and wrong keys fail verification") {
    CHECK_FALSE(respaldo::verify_jwt_rs256("", public_pem));
    CHECK_FALSE(respaldo::verify_jwt_rs256(parts[0] + "." + parts[1], public_pem));
    CHECK_FALSE(respaldo::verify_jwt_rs256(*jwt + ".", public_pem));
    CHECK_FALSE(respaldo::verify_jwt_rs256(*jwt + "=", public_pem));
    CHECK_FALSE(respaldo::verify_jwt_rs256(" " + *jwt, public_pem));
    CHECK_FALSE(respaldo::verify_jwt_rs256(*jwt, "not a pem"));
    CHECK_FALSE(respaldo::verify_jwt_rs256(*jwt, private_pem.substr(0, 40)));
    pkey_ptr other(EVP_RSA_gen(2048));
    REQUIRE(other);
    CHECK_FALSE(respaldo::verify_jwt_rs256(*jwt, export_pem(other.get(), pem_kind::public_key)));
  }
  SECTION("unusable private keys are errors that do not quote the key") {
    const std::string body_line = private_pem.substr(28, 40);  // first line of key material
    const std::string bad_pems[] = {
        "",
        "not a pem",
        private_pem.substr(0, private_pem.size() / 2),
        public_pem,
        "-----BEGIN PRIVATE KEY-----\n" + body_line + "\n-----END PRIVATE KEY-----\n",
    };
    for (const auto& pem : bad_pems) {
      auto r = respaldo::sign_jwt_rs256(pem, "kid", claims);
      REQUIRE(r.has_error());
      CHECK_THAT(r.error().message, Catch::Contains("private key"));
      CHECK(r.error().message.find(body_line) == std::string::npos);
    }
    // An encrypted key fails without asking for a passphrase.
    auto encrypted =
        respaldo::sign_jwt_rs256(export_pem(key, pem_kind::pkcs8_encrypted), "", claims);
    REQUIRE(encrypted.has_error());
    CHECK_THAT(encrypted.error().message, Catch::Contains("unencrypted"));
  }
  SECTION("keys that are not RSA of 2048 bits or more are refused") {
    pkey_ptr ec(EVP_EC_gen("P-256"));
    REQUIRE(ec);
    auto r = respaldo::sign_jwt_rs256(export_pem(ec.get(), pem_kind::pkcs8), "", claims);
    REQUIRE(r.has_error());
    CHECK_THAT(r.error().message, Catch::Contains("not an RSA key"));

    pkey_ptr small(EVP_RSA_gen(1024));
    REQUIRE(small);
    auto s = respaldo::sign_jwt_rs256(export_pem(small.get(), pem_kind::pkcs8), "", claims);
    REQUIRE(s.has_error());
    CHECK_THAT(s.error().message, Catch::Contains("1024 bits"));
  }
}
