// The env file of the S3 server that the s3_server ctest fixture starts (e2e/s3/server.sh
// writes KEY="VALUE" lines; DK_S3_ENV names the file): S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY…
// Empty when DK_S3_ENV is not set. Shared by the integration tests that need the real server.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

namespace dk::testing {

inline std::map<std::string, std::string> ReadS3ServerEnv() {
  std::map<std::string, std::string> env;
  const char* path = std::getenv("DK_S3_ENV");
  if (path == nullptr) return env;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    const size_t eq = line.find('=');
    if (eq == std::string::npos || line[0] == '#') continue;
    std::string value = line.substr(eq + 1);
    // server.sh writes KEY="VALUE" (so that the file can be sourced); the quotes go.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    env[line.substr(0, eq)] = value;
  }
  return env;
}

// Read once per process.
inline const std::map<std::string, std::string>& S3ServerEnv() {
  static const std::map<std::string, std::string> env = ReadS3ServerEnv();
  return env;
}

}  // namespace dk::testing
