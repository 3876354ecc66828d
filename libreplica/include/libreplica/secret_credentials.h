// S3 credentials from a Kubernetes Secret (StatePolicy spec.storage.s3.credentialsSecretRef):
// keys `accessKeyID` and `secretAccessKey`, optional `sessionToken`, base64 in `data` as the
// API server returns them.
//
// The secret values never appear in a Status or a log line: errors name the Secret and the key,
// not the value. Pure functions; thread-safe. Used by the agent (replication, restores) and the
// operator (bucket GC and purges).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "libs3/credentials.h"
#include "libstate/result.h"

namespace dk::replica {

// The credentials held by `secret` (a v1 Secret object). InvalidArgument naming the Secret
// (`where`, e.g. "Secret diffkeeper-system/s3-creds") and the key when a required key is
// missing, empty or not valid base64.
Result<s3::Credentials> CredentialsFromSecret(const nlohmann::json& secret,
                                              const std::string& where);

// A fingerprint (SHA-256 hex) of the credentials, to notice a rotated Secret without keeping a
// second copy of the values around.
std::string CredentialsFingerprint(const s3::Credentials& c);

}  // namespace dk::replica
