#include "libkube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>

#include "base64.h"
#include "file_util.h"

namespace dk::kube {
namespace {

// Reads YAML fields of one map, reporting errors as "<file>: <prefix>.<field>: <problem>".
class Fields {
 public:
  Fields(const YAML::Node& node, std::string file, std::string prefix)
      : node_(node), file_(std::move(file)), prefix_(std::move(prefix)) {}

  Status Error(std::string_view field, std::string_view problem) const {
    return Status::InvalidArgument("kubeconfig " + file_ + ": " + Path(field) + ": " +
                                   std::string(problem));
  }
  std::string Path(std::string_view field) const {
    return prefix_.empty() ? std::string(field) : prefix_ + "." + std::string(field);
  }
  bool Has(const char* field) const {
    return node_.IsMap() && node_[field].IsDefined() && !node_[field].IsNull();
  }

  // "" when absent.
  Result<std::string> String(const char* field) const {
    if (!Has(field)) return std::string();
    const YAML::Node v = node_[field];
    if (!v.IsScalar()) return Error(field, "must be a string");
    return v.Scalar();
  }
  Result<bool> Bool(const char* field) const {
    if (!Has(field)) return false;
    const YAML::Node v = node_[field];
    bool b = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) {
      return Error(field, "must be a boolean");
    }
    return b;
  }

 private:
  YAML::Node node_;
  std::string file_;
  std::string prefix_;
};

// Finds the entry named `name` in the top-level list `list` ("clusters", "users", "contexts")
// and returns its inner map (`inner`, e.g. "cluster").
Result<YAML::Node> FindNamed(const YAML::Node& root, const char* list, const char* inner,
                             const std::string& name, const std::string& file,
                             const std::string& referenced_by) {
  const YAML::Node seq = root[list];
  if (seq.IsDefined() && !seq.IsNull() && !seq.IsSequence()) {
    return Status::InvalidArgument("kubeconfig " + file + ": " + list + ": must be a list");
  }
  if (seq.IsSequence()) {
    for (size_t i = 0; i < seq.size(); ++i) {
      const YAML::Node entry = seq[i];
      if (!entry.IsMap() || !entry["name"].IsScalar() || entry["name"].Scalar() != name) continue;
      const YAML::Node body = entry[inner];
      if (!body.IsMap()) {
        return Status::InvalidArgument("kubeconfig " + file + ": " + list + "[name=" + name + "]." +
                                       inner + ": missing or not a map");
      }
      return body;
    }
  }
  return Status::InvalidArgument("kubeconfig " + file + ": " + referenced_by + ": names " +
                                 std::string(inner) + " \"" + name + "\" but " + list +
                                 " has no entry with that name");
}

// Resolves `p` against the kubeconfig's directory.
std::string ResolvePath(const std::string& kubeconfig_path, const std::string& p) {
  std::filesystem::path fp(p);
  if (fp.is_absolute()) return p;
  return (std::filesystem::path(kubeconfig_path).parent_path() / fp).lexically_normal().string();
}

// Loads one piece of PEM material given either inline (`data_field`, base64) or as a file
// (`file_field`). Empty when neither is set.
Result<std::string> LoadPem(const Fields& f, const char* data_field, const char* file_field,
                            const std::string& kubeconfig_path) {
  DK_ASSIGN_OR_RETURN(std::string data, f.String(data_field));
  DK_ASSIGN_OR_RETURN(std::string file, f.String(file_field));
  if (!data.empty() && !file.empty()) {
    return f.Error(data_field,
                   std::string("both ") + data_field + " and " + file_field + " are set; use one");
  }
  std::string pem;
  if (!data.empty()) {
    std::optional<std::string> decoded = Base64Decode(data);
    if (!decoded) return f.Error(data_field, "invalid base64");
    pem = std::move(*decoded);
    if (pem.find("-----BEGIN ") == std::string::npos) {
      return f.Error(data_field, "decoded data is not PEM (no -----BEGIN line)");
    }
  } else if (!file.empty()) {
    const std::string resolved = ResolvePath(kubeconfig_path, file);
    Result<std::string> content = ReadSmallFile(resolved);
    if (!content.ok()) return f.Error(file_field, content.status().message());
    pem = std::move(content).value();
    if (pem.find("-----BEGIN ") == std::string::npos) {
      return f.Error(file_field, resolved + ": not a PEM file (no -----BEGIN line)");
    }
  }
  return pem;
}

Result<RestConfig> ParseRoot(const YAML::Node& root, const std::string& path,
                             const KubeconfigOptions& options) {
  const std::string where = "kubeconfig " + path;
  if (!root.IsMap()) return Status::InvalidArgument(where + ": not a YAML map");
  Fields top(root, path, "");

  std::string context_name = options.context;
  std::string context_field = "context option";
  if (context_name.empty()) {
    DK_ASSIGN_OR_RETURN(context_name, top.String("current-context"));
    context_field = "current-context";
    if (context_name.empty()) {
      return top.Error("current-context", "not set (and no context was chosen explicitly)");
    }
  }

  Result<YAML::Node> ctx_node =
      FindNamed(root, "contexts", "context", context_name, path, context_field);
  if (!ctx_node.ok()) return ctx_node.status();
  const std::string ctx_prefix = "contexts[name=" + context_name + "].context";
  Fields ctx(*ctx_node, path, ctx_prefix);
  DK_ASSIGN_OR_RETURN(std::string cluster_name, ctx.String("cluster"));
  DK_ASSIGN_OR_RETURN(std::string user_name, ctx.String("user"));
  DK_ASSIGN_OR_RETURN(std::string ns, ctx.String("namespace"));
  if (cluster_name.empty()) return ctx.Error("cluster", "not set");

  RestConfig config;
  config.source = where + " context " + context_name;
  if (!ns.empty()) config.default_namespace = ns;

  // Cluster.
  Result<YAML::Node> cluster_node =
      FindNamed(root, "clusters", "cluster", cluster_name, path, ctx.Path("cluster"));
  if (!cluster_node.ok()) return cluster_node.status();
  Fields cluster(*cluster_node, path, "clusters[name=" + cluster_name + "].cluster");
  DK_ASSIGN_OR_RETURN(config.server, cluster.String("server"));
  if (config.server.empty()) return cluster.Error("server", "not set");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  const bool https = config.server.rfind("https://", 0) == 0;
  const bool http = config.server.rfind("http://", 0) == 0;
  if (!https && !http) {
    return cluster.Error("server", "\"" + config.server + "\" is not an https:// URL");
  }
  if (http && !options.allow_insecure) {
    return cluster.Error(
        "server", "\"" + config.server + "\" is plain http; refused (allow_insecure not set)");
  }
  DK_ASSIGN_OR_RETURN(config.insecure_skip_tls_verify, cluster.Bool("insecure-skip-tls-verify"));
  if (config.insecure_skip_tls_verify && !options.allow_insecure) {
    return cluster.Error("insecure-skip-tls-verify",
                         "true is refused: server certificates must be verified "
                         "(the caller did not allow insecure connections)");
  }
  DK_ASSIGN_OR_RETURN(config.tls_server_name, cluster.String("tls-server-name"));
  DK_ASSIGN_OR_RETURN(
      config.ca_pem, LoadPem(cluster, "certificate-authority-data", "certificate-authority", path));
  if (cluster.Has("proxy-url")) return cluster.Error("proxy-url", "proxies are not supported");

  // User (optional: anonymous when the context names none).
  if (!user_name.empty()) {
    Result<YAML::Node> user_node =
        FindNamed(root, "users", "user", user_name, path, ctx.Path("user"));
    if (!user_node.ok()) return user_node.status();
    Fields user(*user_node, path, "users[name=" + user_name + "].user");
    for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
      if (user.Has(unsupported)) return user.Error(unsupported, "not supported by libkube");
    }
    DK_ASSIGN_OR_RETURN(config.client_cert_pem,
                        LoadPem(user, "client-certificate-data", "client-certificate", path));
    DK_ASSIGN_OR_RETURN(config.client_key_pem,
                        LoadPem(user, "client-key-data", "client-key", path));
    if (!config.client_cert_pem.empty() && config.client_key_pem.empty()) {
      return user.Error("client-key", "a client certificate is set but no client key");
    }
    if (config.client_cert_pem.empty() && !config.client_key_pem.empty()) {
      return user.Error("client-certificate", "a client key is set but no client certificate");
    }
    DK_ASSIGN_OR_RETURN(config.bearer_token, user.String("token"));
    DK_ASSIGN_OR_RETURN(std::string token_file, user.String("tokenFile"));
    if (!token_file.empty()) {
      config.bearer_token_file = ResolvePath(path, token_file);
      Result<std::string> probe = ReadSmallFile(config.bearer_token_file);
      if (!probe.ok()) return user.Error("tokenFile", probe.status().message());
    }
  }
  return config;
}

}  // namespace

Result<RestConfig> ParseKubeconfig(std::string_view yaml_text, const std::string& path,
                                   const KubeconfigOptions& options) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    return ParseRoot(root, path, options);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("kubeconfig " + path + ": invalid YAML at line " +
                                   std::to_string(e.mark.line + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("kubeconfig " + path + ": " + e.what());
  }
}

Result<RestConfig> LoadKubeconfig(const std::string& path, const KubeconfigOptions& options) {
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status().WithContext("kubeconfig");
  return ParseKubeconfig(*text, path, options);
}

}  // namespace dk::kube
