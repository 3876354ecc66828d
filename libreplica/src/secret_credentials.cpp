#include "libreplica/secret_credentials.h"

#include <openssl/evp.h>

#include <optional>
#include <vector>

#include "libstate/hash.h"

namespace dk::replica {
namespace {

using nlohmann::json;

std::optional<std::string> DecodeBase64(const std::string& in) {
  std::string s;
  s.reserve(in.size());
  for (char c : in)
    if (c != '\n' && c != '\r' && c != ' ') s.push_back(c);
  if (s.size() % 4 != 0) return std::nullopt;
  if (s.empty()) return std::string();
  std::vector<unsigned char> out(s.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()),
                          static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  if (s.back() == '=') ++pad;
  if (s.size() >= 2 && s[s.size() - 2] == '=') ++pad;
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(n) - pad);
}

// The decoded value of data[key]: nullopt when absent; InvalidArgument when not base64.
Result<std::optional<std::string>> Key(const json& data, const char* key,
                                       const std::string& where) {
  if (!data.is_object()) return std::optional<std::string>();
  auto it = data.find(key);
  if (it == data.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string())
    return Status::InvalidArgument(where + ": data." + key + " is not a string");
  auto v = DecodeBase64(it->get<std::string>());
  if (!v) return Status::InvalidArgument(where + ": data." + key + " is not valid base64");
  return std::optional<std::string>(std::move(*v));
}

}  // namespace

Result<s3::Credentials> CredentialsFromSecret(const json& secret, const std::string& where) {
  static const json kNull;
  const json& data = secret.is_object() && secret.contains("data") ? secret.at("data") : kNull;
  s3::Credentials c;
  DK_ASSIGN_OR_RETURN(auto access, Key(data, "accessKeyID", where));
  DK_ASSIGN_OR_RETURN(auto secret_key, Key(data, "secretAccessKey", where));
  DK_ASSIGN_OR_RETURN(auto token, Key(data, "sessionToken", where));
  if (!access || access->empty())
    return Status::InvalidArgument(where + " has no key accessKeyID (or it is empty)");
  if (!secret_key || secret_key->empty())
    return Status::InvalidArgument(where + " has no key secretAccessKey (or it is empty)");
  c.access_key = std::move(*access);
  c.secret_key = std::move(*secret_key);
  if (token) c.session_token = std::move(*token);
  return c;
}

std::string CredentialsFingerprint(const s3::Credentials& c) {
  std::string all = c.access_key + '\0' + c.secret_key + '\0' + c.session_token;
  return HashBytes(AsBytes(all)).Hex();
}

}  // namespace dk::replica
