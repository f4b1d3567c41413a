// The benchmark peers' HTTP/1.1: blocking sockets, one thread per connection, keep-alive, bodies
// by Content-Length only. Just enough for respaldo's client, at memory speed; the Python doubles
// remain the protocol references and the fault injectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace bench {

struct request {
  std::string method, target;
  std::map<std::string, std::string> headers;  // names lowercased
  std::uint64_t content_length = 0;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// One accepted connection: reads requests, bodies and writes replies.
class connection {
 public:
  explicit connection(int fd) : fd_(fd) {}
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  bool read_request(request& out);  // false: closed or malformed
  // Calls `sink` with the body in pieces read straight into a large buffer.
  bool read_body(std::uint64_t n, const std::function<void(const char*, std::size_t)>& sink);
  bool write_all(const char* p, std::size_t n);
  bool reply(int status, const std::string& reason, const std::string& headers,
             const std::string& body);

 private:
  int fd_;
  std::string pending_;  // bytes read past the headers
};

// Listens on 127.0.0.1:port (0: any free port), prints "port N" on stdout, then serves each
// connection on its own thread with `serve`.
int listen_and_serve(int port, const std::function<void(connection&)>& serve);

std::string sha256_hex(const unsigned char* digest);

}  // namespace bench
