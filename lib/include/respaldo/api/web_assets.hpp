// The dashboard's files (web/), compiled in at build time by scripts/embed_web.py, plus
// /ui/errors.json made from docs/errors.md. Served at / and /ui/... by api/ui.cpp.
#pragma once

#include <span>
#include <string_view>

namespace respaldo {

struct web_asset {
  std::string_view path;  // "/ui/app.js"
  std::string_view content_type;
  std::string_view etag;  // quoted, from the content's SHA-256
  std::string_view body;
};

std::span<const web_asset> web_assets();

}  // namespace respaldo
