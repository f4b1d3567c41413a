// The benchmark's Drive sink: the resumable-upload subset of the Drive v3 protocol that respaldo
// uses (token, initiation, chunks answered 308 with Range, the final file resource with
// sha256Checksum; the file list, get and delete retention may call), hashing every byte it
// receives and keeping none. Tokens and assertions are not checked: this is a load sink, the
// Python double (test/doubles/drive_double.py) is the protocol reference.
//
//   bench_drive_sink [--port N]      prints "port N" once it listens
#include <openssl/evp.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "http_lite.hpp"

namespace {

namespace json = boost::json;

struct session {
  std::uint64_t total = 0, received = 0;
  json::object meta;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  std::mutex busy;  // one chunk of a session at a time
};

std::mutex table_lock;
std::map<std::string, std::shared_ptr<session>> sessions;
std::map<std::string, json::object> files;  // finished uploads: id -> file resource
std::atomic<unsigned long> next_id{1};

std::string query_value(const std::string& target, const std::string& key) {
  const auto at = target.find(key + "=");
  if (at == std::string::npos) return "";
  const auto start = at + key.size() + 1;
  return target.substr(start, target.find('&', start) - start);
}

void initiate(bench::connection& c, const bench::request& r) {
  std::string body;
  c.read_body(r.content_length, [&](const char* p, std::size_t n) { body.append(p, n); });
  auto s = std::make_shared<session>();
  boost::system::error_code ec;
  auto doc = json::parse(body, ec);
  if (!ec && doc.is_object()) s->meta = doc.get_object();
  s->total = std::stoull(r.header("x-upload-content-length"));
  EVP_DigestInit_ex(s->sha.get(), EVP_sha256(), nullptr);
  const std::string id = "u" + std::to_string(next_id++);
  {
    std::lock_guard g(table_lock);
    sessions[id] = s;
  }
  c.reply(200, "OK",
          "Location: http://" + r.header("host") +
              "/upload/drive/v3/files?uploadType=resumable&upload_id=" + id + "\r\n",
          "");
}

json::object finished(const std::string& id, session& s) {
  unsigned char digest[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(s.sha.get(), digest, &len);
  json::object f = s.meta;
  f["id"] = "f" + id;
  f["size"] = std::to_string(s.total);
  f["sha256Checksum"] = bench::sha256_hex(digest);
  f["createdTime"] =
      f.contains("createdTime") ? f["createdTime"] : json::value("2026-01-01T00:00:00Z");
  f.erase("parents");
  return f;
}

void chunk(bench::connection& c, const bench::request& r) {
  const std::string id = query_value(r.target, "upload_id");
  std::shared_ptr<session> s;
  {
    std::lock_guard g(table_lock);
    if (auto it = sessions.find(id); it != sessions.end()) s = it->second;
  }
  if (!s) {
    c.read_body(r.content_length, [](const char*, std::size_t) {});
    c.reply(404, "Not Found", "Content-Type: application/json\r\n", "{\"error\":{\"code\":404}}");
    return;
  }
  std::lock_guard g(s->busy);
  // "bytes A-B/N" or "bytes */N": bytes below what is held are skipped, as Drive does.
  const std::string range = r.header("content-range");
  std::uint64_t at = s->received;
  if (range.rfind("bytes ", 0) == 0 && range[6] != '*') at = std::stoull(range.substr(6));
  c.read_body(r.content_length, [&](const char* p, std::size_t n) {
    if (at < s->received) {
      const auto skip = std::min<std::uint64_t>(s->received - at, n);
      at += skip, p += skip, n -= static_cast<std::size_t>(skip);
    }
    if (n == 0 || at != s->received) return;
    EVP_DigestUpdate(s->sha.get(), p, n);
    s->received += n;
    at += n;
  });
  if (s->received < s->total) {
    const std::string held =
        s->received == 0 ? "" : "Range: bytes=0-" + std::to_string(s->received - 1) + "\r\n";
    c.reply(308, "Resume Incomplete", held, "");
    return;
  }
  json::object f = finished(id, *s);
  {
    std::lock_guard t(table_lock);
    sessions.erase(id);
    files[f["id"].as_string().c_str()] = f;
  }
  c.reply(200, "OK", "Content-Type: application/json; charset=UTF-8\r\n", json::serialize(f));
}

void files_api(bench::connection& c, const bench::request& r) {
  c.read_body(r.content_length, [](const char*, std::size_t) {});
  const std::string path = r.target.substr(0, r.target.find('?'));
  const std::string prefix = "/drive/v3/files/";
  std::lock_guard g(table_lock);
  if (path == "/drive/v3/files" && r.method == "GET") {
    json::array list;
    for (const auto& [id, f] : files) list.push_back(f);
    c.reply(200, "OK", "Content-Type: application/json\r\n",
            json::serialize(json::object{{"files", list}}));
    return;
  }
  const std::string id = path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : "";
  auto it = files.find(id);
  if (it == files.end() || query_value(r.target, "alt") == "media") {
    c.reply(404, "Not Found", "Content-Type: application/json\r\n", "{\"error\":{\"code\":404}}");
  } else if (r.method == "DELETE") {
    files.erase(it);
    c.reply(204, "No Content", "", "");
  } else {
    c.reply(200, "OK", "Content-Type: application/json\r\n", json::serialize(it->second));
  }
}

void serve(bench::connection& c) {
  bench::request r;
  while (c.read_request(r)) {
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (path == "/token") {
      c.read_body(r.content_length, [](const char*, std::size_t) {});
      c.reply(200, "OK", "Content-Type: application/json\r\n",
              "{\"access_token\":\"bench-sink-token\",\"expires_in\":3599,"
              "\"token_type\":\"Bearer\"}");
    } else if (path == "/upload/drive/v3/files" && r.method == "POST") {
      initiate(c, r);
    } else if (path == "/upload/drive/v3/files" && r.method == "PUT") {
      chunk(c, r);
    } else {
      files_api(c, r);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--port") port = std::atoi(argv[i + 1]);
  return bench::listen_and_serve(port, serve);
}
