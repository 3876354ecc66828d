// A self-signed serving certificate for the peer API, for clusters that do not provide one.
//
// With no --tls-cert/--tls-key the agent keeps an ECDSA P-256 key and a self-signed certificate
// (subject and DNS name "diffkeeper-agent", plus the advertised IP) in <state-dir>/tls/, creates
// them on first start (key 0600) and replaces them 30 days before they expire (validity one
// year). It publishes the certificate in its node report (data.certificate); peers pin exactly
// that certificate for this node — trust comes from the API server, where only agents can
// write node reports (docs/protocol.md, "Peer API").
#pragma once

#include <string>

#include "libstate/result.h"

namespace dk::agent {

struct CertFiles {
  std::string cert_file;
  std::string key_file;
  std::string cert_pem;
};

// Loads the certificate in `dir` or makes a new one. `ip` (may be empty) is added as an IP SAN.
Result<CertFiles> EnsureSelfSignedCert(const std::string& dir, const std::string& ip);

}  // namespace dk::agent
