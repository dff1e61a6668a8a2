#include "main/tls_peer_names.hpp"

#include "main/options.hpp"

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <cctype>
#include <stdexcept>

namespace taskpipe {

std::vector<std::string> parse_tls_peer_names(const std::string& text) {
  std::vector<std::string> names;
  std::size_t pos = 0;
  for (;;) {
    auto comma = text.find(',', pos);
    auto name = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    bool ok = !name.empty() && name.size() <= 253;
    for (char c : name)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_');
    if (!ok)
      throw option_error{fmt::format(
        "--tls-peer-names={}: expected NAME[,NAME...], each a DNS name (letters, digits, '-', "
        "'.', '_')",
        text)};
    names.push_back(std::move(name));
    if (comma == std::string::npos)
      return names;
    pos = comma + 1;
  }
}

void require_tls_peer_names(const std::vector<std::string>& names) {
  auto* param = X509_VERIFY_PARAM_new();
  const auto* defaults = X509_VERIFY_PARAM_lookup("default");
  bool ok = param != nullptr && defaults != nullptr && X509_VERIFY_PARAM_set1(param, defaults) == 1
            && X509_VERIFY_PARAM_set1_name(param, "default") == 1;
  if (ok)
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (const auto& name : names)
    ok = ok && X509_VERIFY_PARAM_add1_host(param, name.data(), name.size()) == 1;
  // The table takes ownership; the lookup afterwards sorts it now, before any thread reads it.
  if (!ok || X509_VERIFY_PARAM_add0_table(param) != 1) {
    X509_VERIFY_PARAM_free(param);
    throw std::runtime_error{"OpenSSL refused the verification parameters of --tls-peer-names"};
  }
  X509_VERIFY_PARAM_lookup("default");
}

} // namespace taskpipe
