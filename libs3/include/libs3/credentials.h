// Credentials: the access key pair (and optional session token) that signs S3 requests, and
// the two places DiffKeeper reads it from.
//
//  - The process environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (the
//    names every AWS SDK uses).
//  - A mounted Kubernetes Secret: a directory with one file per key. Accepted file names are
//    `accessKeyID` / `secretAccessKey` / `sessionToken` (the DiffKeeper convention) and the
//    environment-variable names `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//    `AWS_SESSION_TOKEN` (what `kubectl create secret --from-env-file` produces). Leading and
//    trailing whitespace (the newline `echo` leaves) is removed.
//
// Secrets never appear in a Status message or a log line: only the access key id may be shown
// (it identifies the key without granting anything), and DebugString() redacts the rest.
//
// Thread safety: functions are reentrant; the directory loader reads the files on each call, so
// a rotated Secret is picked up by calling it again.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "libstate/result.h"

namespace dk::s3 {

struct Credentials {
  std::string access_key;     // AWS_ACCESS_KEY_ID
  std::string secret_key;     // AWS_SECRET_ACCESS_KEY; never logged
  std::string session_token;  // AWS_SESSION_TOKEN; empty for long-term keys; never logged

  bool empty() const { return access_key.empty() && secret_key.empty(); }
  // "access_key=AKIA… secret_key=<redacted> session_token=<none|redacted>".
  std::string DebugString() const;
};

// Looks up one environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The real process environment (getenv).
std::optional<std::string> ProcessEnv(std::string_view name);

// Reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN through `lookup`.
// NotFound when neither key variable is set (or both are empty); InvalidArgument when only one
// of the pair is set. The session token is optional.
Result<Credentials> CredentialsFromEnv(const EnvLookup& lookup = ProcessEnv);

// Reads the files of a mounted Secret in `dir` (see the header comment for the names).
// NotFound when `dir` does not exist or holds neither key file; InvalidArgument when only one
// of the pair is present, a file is empty, larger than 64 KiB, or has a line break inside the
// value; IOError (errno-based) when a file cannot be read.
Result<Credentials> CredentialsFromDirectory(const std::string& dir);

}  // namespace dk::s3
