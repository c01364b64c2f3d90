// makeTestCertificates: three openssl invocations (CA, server CSR, signing).
#include "integration/harness/tls_certs.hpp"

#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "integration/harness/process.hpp"

namespace pepeunit::testing {
namespace {

void runOpenssl(const std::vector<std::string>& args, const std::filesystem::path& log) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process openssl = Process::spawn(argv, {}, log);
  if (openssl.wait(std::chrono::seconds(30)) != 0) {
    openssl.stop(SIGKILL);
    throw std::runtime_error("openssl " + args.front() + " failed; output:\n" + readFileTail(log));
  }
}

}  // namespace

TlsFiles makeTestCertificates(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  TlsFiles files{dir / "ca.crt", dir / "ca.key", dir / "server.crt", dir / "server.key"};
  const auto csr = dir / "server.csr";
  const auto ext = dir / "server.ext";
  const auto log = dir / "openssl.log";
  // EC keys: generating them is instant, unlike RSA.
  runOpenssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", files.ca_key.string(), "-out", files.ca_cert.string(), "-days", "2",
              "-subj", "/CN=Pepeunit Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
             log);
  runOpenssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", files.server_key.string(), "-out", csr.string(), "-subj", "/CN=localhost"},
             log);
  {
    std::ofstream out(ext);
    out << "basicConstraints=CA:FALSE\n"
           "keyUsage=critical,digitalSignature,keyEncipherment\n"
           "extendedKeyUsage=serverAuth\n"
           "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  }
  runOpenssl({"x509", "-req", "-in", csr.string(), "-CA", files.ca_cert.string(), "-CAkey",
              files.ca_key.string(), "-CAcreateserial", "-out", files.server_cert.string(), "-days",
              "2", "-extfile", ext.string()},
             log);
  return files;
}

}  // namespace pepeunit::testing
