// TLS client configuration shared by connections.
#include <openssl/ssl.h>

#include <fstream>

#include "connection_impl.hpp"

namespace respaldo {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

outcome<std::shared_ptr<tls_context>> make_tls_context(const std::string& ca_file) {
  auto fail = [](std::string message) { return failure{errc::tls_error, std::move(message)}; };
  auto t = std::make_shared<tls_context>();
  auto& c = t->ctx;
  error_code ec;
  c.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                ec);
  if (ec) return fail("cannot configure TLS: " + ec.message());
  if (SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_2_VERSION) != 1)
    return fail("cannot require TLS 1.2 or newer");
  c.set_default_verify_paths(ec);
  if (ec) return fail("cannot load the system's trusted CAs: " + ec.message());
  if (!ca_file.empty()) {
    if (!std::ifstream(ca_file)) return fail("cannot read CA file '" + ca_file + "'");
    c.load_verify_file(ca_file, ec);
    if (ec) return fail("cannot load CA file '" + ca_file + "': " + ec.message());
  }
  c.set_verify_mode(ssl::verify_peer, ec);
  if (ec) return fail("cannot enable peer verification: " + ec.message());
  return t;
}

}  // namespace respaldo
