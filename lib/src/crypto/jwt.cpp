// RS256 JWTs for Google service accounts.
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <climits>

#include "openssl_util.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {

using namespace crypto_detail;

namespace {

// --- JWT -------------------------------------------------------------------------------------

// Never prompt on a terminal for the passphrase of an encrypted PEM: fail instead.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? std::string(" (") + reason + ")" : std::string();
}

using jwt_result = outcome<std::string>;

// Value and error are both strings here, so say which one is meant.
jwt_result jwt_error(std::string message) {
  return jwt_result(failure{make_error_code(errc::invalid_argument), std::move(message)});
}

bio_ptr memory_bio(std::string_view data) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  bio_ptr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) throw std::bad_alloc();
  return bio;
}

}  // namespace

// --- JWT ---------------------------------------------------------------------------------------

outcome<std::string> sign_jwt_rs256(std::string_view private_key_pem, std::string_view kid,
                                    const boost::json::object& claims) {
  auto bio = memory_bio(private_key_pem);
  if (!bio) return jwt_error("private key PEM is too large");
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    return jwt_error(
        "cannot read the private key: expected an unencrypted PEM \"BEGIN PRIVATE KEY\" "
        "(PKCS#8) or \"BEGIN RSA PRIVATE KEY\"" +
        openssl_reason());
  }
  if (!EVP_PKEY_is_a(key.get(), "RSA")) {
    ERR_clear_error();
    return jwt_error("the private key is not an RSA key; RS256 needs RSA");
  }
  // RFC 7518 section 3.3: RS256 keys must have at least 2048 bits.
  if (EVP_PKEY_get_bits(key.get()) < 2048) {
    return jwt_error("the RSA private key has " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                     " bits; RS256 needs at least 2048");
  }

  boost::json::object header;
  header["alg"] = "RS256";
  header["typ"] = "JWT";
  if (!kid.empty()) header["kid"] = kid;
  std::string signing_input = base64url_encode(boost::json::serialize(header)) + "." +
                              base64url_encode(boost::json::serialize(claims));

  detail::md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  // RSA keys sign with PKCS#1 v1.5 padding unless told otherwise.
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return jwt_error("cannot use the RSA private key for signing" + openssl_reason());
  }
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t sig_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &sig_len, in, signing_input.size()) != 1) {
    return jwt_error("signing the JWT failed" + openssl_reason());
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len, in,
                     signing_input.size()) != 1) {
    return jwt_error("signing the JWT failed" + openssl_reason());
  }
  sig.resize(sig_len);
  return jwt_result(boost::system::in_place_value, signing_input + "." + base64url_encode(sig));
}

bool verify_jwt_rs256(std::string_view jwt, std::string_view public_key_pem) {
  const auto dot1 = jwt.find('.');
  if (dot1 == std::string_view::npos) return false;
  const auto dot2 = jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view signing_input = jwt.substr(0, dot2);
  const auto header_text = base64url_decode(jwt.substr(0, dot1));
  const auto claims_text = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto sig = base64url_decode(jwt.substr(dot2 + 1));
  if (!header_text || !claims_text || !sig || sig->empty()) return false;

  // The header must name RS256 itself: never let the token choose another algorithm.
  boost::system::error_code ec;
  const boost::json::value header = boost::json::parse(*header_text, ec);
  if (ec || !header.is_object()) return false;
  const auto* alg = header.as_object().if_contains("alg");
  if (!alg || !alg->is_string() || alg->get_string() != "RS256") return false;
  const boost::json::value claims = boost::json::parse(*claims_text, ec);
  if (ec || !claims.is_object()) return false;

  auto bio = memory_bio(public_key_pem);
  if (!bio) return false;
  pkey_ptr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key || !EVP_PKEY_is_a(key.get(), "RSA")) {
    ERR_clear_error();
    return false;
  }
  detail::md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  const bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace respaldo
