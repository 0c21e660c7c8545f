#pragma once

#include <string>
#include <string_view>

namespace personagen {

// `url` for a log line or a terminal: any user:password@ before the host is masked as "***@"
// ("https://***@host/v1"); a URL without one comes back as it is.
inline std::string display_url(std::string_view url) {
  size_t scheme = url.find("://");
  size_t host = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t at = url.find('@', host);
  if (at == std::string_view::npos || url.find('/', host) < at) return std::string(url);
  return std::string(url.substr(0, host)) + "***@" + std::string(url.substr(at + 1));
}

}  // namespace personagen
