#include "http_lite.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace bench {

connection::~connection() {
  ::close(fd_);
}

bool connection::write_all(const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool connection::read_request(request& out) {
  out = request{};
  std::size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (pending_.size() > 64 * 1024) return false;
    char buf[16 * 1024];
    const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(r));
  }
  const std::string head = pending_.substr(0, end);
  pending_.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  const std::string first = head.substr(0, line_end);
  const auto sp1 = first.find(' '), sp2 = first.rfind(' ');
  if (sp1 == std::string::npos || sp2 == sp1) return false;
  out.method = first.substr(0, sp1);
  out.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    out.headers[name] = line.substr(v);
  }
  if (auto cl = out.header("content-length"); !cl.empty()) out.content_length = std::stoull(cl);
  return true;
}

bool connection::read_body(std::uint64_t n,
                           const std::function<void(const char*, std::size_t)>& sink) {
  const std::size_t from_pending =
      static_cast<std::size_t>(std::min<std::uint64_t>(n, pending_.size()));
  if (from_pending > 0) sink(pending_.data(), from_pending);
  pending_.erase(0, from_pending);
  n -= from_pending;
  static thread_local std::vector<char> buf(1 << 20);
  while (n > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, buf.size()));
    const ssize_t r = ::recv(fd_, buf.data(), want, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    sink(buf.data(), static_cast<std::size_t>(r));
    n -= static_cast<std::uint64_t>(r);
  }
  return true;
}

bool connection::reply(int status, const std::string& reason, const std::string& headers,
                       const std::string& body) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n" + headers +
                     "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  head += body;
  return write_all(head.data(), head.size());
}

int listen_and_serve(int port, const std::function<void(connection&)>& serve) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 128) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  std::printf("port %d\n", ntohs(a.sin_port));
  std::fflush(stdout);
  while (true) {
    const int c = ::accept(s, nullptr, nullptr);
    if (c < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread([c, &serve] {
      connection conn(c);
      serve(conn);
    }).detach();
  }
}

std::string sha256_hex(const unsigned char* digest) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace bench
