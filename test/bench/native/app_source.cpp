// The benchmark's app: the contract's two endpoints serving a deterministic stream of any size
// at memory speed (a pseudo-random block of an odd length, repeated), with its SHA-256 computed
// once at start-up (or read from --cache-dir) so that X-Checksum-SHA256 precedes the body.
//
//   bench_app_source --token T --size BYTES [--seed N] [--port N] [--cache-dir DIR]
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "http_lite.hpp"

namespace {

constexpr std::size_t block_size = (1 << 20) + 4099;

struct source {
  std::string token;
  std::uint64_t size = 0;
  std::vector<char> block;
  std::string sha256;
};

source src;

void make_block(unsigned seed) {
  src.block.resize(block_size);
  unsigned long long x = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (auto& c : src.block) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x >> 24);
  }
}

std::string stream_sha256() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (std::uint64_t left = src.size; left > 0;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block_size));
    EVP_DigestUpdate(ctx, src.block.data(), n);
    left -= n;
  }
  unsigned char d[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, d, &len);
  EVP_MD_CTX_free(ctx);
  return bench::sha256_hex(d);
}

std::string cached_sha256(const std::string& dir, unsigned seed) {
  const std::string path = dir.empty() ? ""
                                       : dir + "/bench-app-source-" + std::to_string(src.size) +
                                             "-" + std::to_string(seed) + ".sha256";
  if (!path.empty()) {
    std::ifstream in(path);
    std::string line;
    if (std::getline(in, line) && line.size() == 64) return line;
  }
  std::string sha = stream_sha256();
  if (!path.empty()) std::ofstream(path) << sha << "\n";
  return sha;
}

void export_stream(bench::connection& c) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Size: " +
                           std::to_string(src.size) + "\r\nX-Checksum-SHA256: " + src.sha256 +
                           "\r\nX-Format: bin\r\nContent-Length: " + std::to_string(src.size) +
                           "\r\n\r\n";
  if (!c.write_all(head.data(), head.size())) return;
  for (std::uint64_t left = src.size; left > 0;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block_size));
    if (!c.write_all(src.block.data(), n)) return;
    left -= n;
  }
}

void serve(bench::connection& c) {
  bench::request r;
  while (c.read_request(r)) {
    c.read_body(r.content_length, [](const char*, std::size_t) {});
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (r.header("authorization") != "Bearer " + src.token) {
      c.reply(401, "Unauthorized", "Content-Type: application/json\r\n", "{\"error\":\"token\"}");
    } else if (path == "/backup/capabilities" && r.method == "GET") {
      c.reply(200, "OK", "Content-Type: application/json\r\n",
              "{\"version\":\"v1\",\"types\":[\"db\"],\"est_seconds\":1,\"est_size\":" +
                  std::to_string(src.size) + "}");
    } else if (path == "/backup/export" && r.method == "POST") {
      export_stream(c);
    } else {
      c.reply(404, "Not Found", "Content-Type: application/json\r\n", "{\"error\":\"path\"}");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  unsigned seed = 1;
  std::string cache_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--port")
      port = std::atoi(value.c_str());
    else if (flag == "--token")
      src.token = value;
    else if (flag == "--size")
      src.size = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--seed")
      seed = static_cast<unsigned>(std::atoi(value.c_str()));
    else if (flag == "--cache-dir")
      cache_dir = value;
    else {
      std::fprintf(stderr, "bench_app_source: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (src.token.empty()) {
    std::fprintf(stderr, "bench_app_source: --token is required\n");
    return 2;
  }
  make_block(seed);
  src.sha256 = cached_sha256(cache_dir, seed);
  return bench::listen_and_serve(port, serve);
}
