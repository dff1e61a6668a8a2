// --tls-peer-names: which names a node-link peer's certificate must carry. CAF's openssl module
// verifies a peer's chain against --tls-ca on both sides of a link but checks no name, and it
// offers no hook for one; OpenSSL applies its process-wide "default" verification parameters
// to every chain it verifies, so the names are set there, once, before the actor system starts.
// Every TLS handshake of the process then refuses a peer (dialled or accepting) whose
// certificate names none of them.
#pragma once

#include <string>
#include <vector>

namespace taskpipe {

/// Splits "NAME[,NAME...]"; throws option_error naming --tls-peer-names when a name is empty or
/// holds characters no DNS name or CN of ours would.
std::vector<std::string> parse_tls_peer_names(const std::string& text);

/// From now on a peer's certificate must name one of `names`: a DNS subject alternative name,
/// or the subject CN when it has no DNS name (OpenSSL's host check, no partial wildcards).
/// Throws std::runtime_error when OpenSSL refuses the parameters.
void require_tls_peer_names(const std::vector<std::string>& names);

} // namespace taskpipe
