// A throwaway certificate authority and a server certificate for 127.0.0.1/localhost, made with
// the openssl CLI, so the broker's TLS listener can be tested with a real chain.
#pragma once

#include <filesystem>

namespace pepeunit::testing {

struct TlsFiles {
  std::filesystem::path ca_cert;
  std::filesystem::path ca_key;
  std::filesystem::path server_cert;  ///< SAN DNS:localhost, IP:127.0.0.1; signed by ca_cert
  std::filesystem::path server_key;
};

/// Writes ca.crt, ca.key, server.crt, server.key (EC P-256, valid from now for 2 days) into
/// `dir`; throws std::runtime_error quoting openssl's output if a step fails.
TlsFiles makeTestCertificates(const std::filesystem::path& dir);

}  // namespace pepeunit::testing
