#include "api.h"

#include <cstdio>
#include <ctime>

#include "libkube/object_meta.h"

namespace dk::op {

namespace resources {
kube::ResourceRef StatePolicies() {
  return {kGroup, "v1alpha1", "statepolicies", true, "StatePolicy"};
}
kube::ResourceRef StateRestores() {
  return {kGroup, "v1alpha1", "staterestores", true, "StateRestore"};
}
kube::ResourceRef MutatingWebhookConfigurations() {
  return {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", false,
          "MutatingWebhookConfiguration"};
}
}  // namespace resources

nlohmann::json Regarding(const nlohmann::json& obj, std::string_view api_version,
                         std::string_view kind) {
  nlohmann::json r = nlohmann::json::object();
  r["apiVersion"] = std::string(api_version);
  r["kind"] = std::string(kind);
  r["metadata"] = nlohmann::json::object();
  r["metadata"]["name"] = kube::GetName(obj);
  std::string ns = kube::GetNamespace(obj);
  if (!ns.empty()) r["metadata"]["namespace"] = ns;
  std::string uid = kube::GetUid(obj);
  if (!uid.empty()) r["metadata"]["uid"] = uid;
  return r;
}

bool IsDeleting(const nlohmann::json& obj) {
  auto m = obj.find("metadata");
  return m != obj.end() && m->is_object() && m->contains("deletionTimestamp") &&
         !(*m)["deletionTimestamp"].is_null();
}

bool HasFinalizer(const nlohmann::json& obj, std::string_view finalizer) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return false;
  auto f = m->find("finalizers");
  if (f == m->end() || !f->is_array()) return false;
  for (const auto& v : *f) {
    if (v.is_string() && v.get<std::string>() == finalizer) return true;
  }
  return false;
}

int64_t GetGeneration(const nlohmann::json& obj) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return 0;
  auto g = m->find("generation");
  return g != m->end() && g->is_number_integer() ? g->get<int64_t>() : 0;
}

std::string OwningStatefulSet(const nlohmann::json& pod) {
  auto m = pod.find("metadata");
  if (m == pod.end() || !m->is_object()) return "";
  auto refs = m->find("ownerReferences");
  if (refs == m->end() || !refs->is_array()) return "";
  for (const auto& r : *refs) {
    if (!r.is_object()) continue;
    if (r.value("kind", "") == "StatefulSet" && r.value("controller", false) &&
        r.value("apiVersion", "").rfind("apps/", 0) == 0) {
      return r.value("name", "");
    }
  }
  return "";
}

std::optional<int> PodOrdinal(const nlohmann::json& pod, std::string_view sts_name) {
  auto parse = [](std::string_view s) -> std::optional<int> {
    if (s.empty() || s.size() > 9) return std::nullopt;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  auto labels = kube::GetLabels(pod);
  if (auto it = labels.find("apps.kubernetes.io/pod-index"); it != labels.end()) {
    if (auto v = parse(it->second)) return v;
  }
  std::string name = kube::GetName(pod);
  std::string prefix = std::string(sts_name) + "-";
  if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
    return parse(std::string_view(name).substr(prefix.size()));
  }
  return std::nullopt;
}

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (s.size() < 20) return std::nullopt;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6) {
    return std::nullopt;
  }
  if (str[4] != '-' || str[7] != '-' || (str[10] != 'T' && str[10] != 't') || str[13] != ':' ||
      str[16] != ':') {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < str.size() && str[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < str.size() && str[pos] >= '0' && str[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (str[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  int offset_minutes = 0;
  if (pos < str.size() && (str[pos] == 'Z' || str[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == str.size() && (str[pos] == '+' || str[pos] == '-')) {
    int oh, om;
    if (std::sscanf(str.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset_minutes = (oh * 60 + om) * (str[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != str.size()) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t t = timegm(&tm);
  auto tp = std::chrono::system_clock::from_time_t(t) - std::chrono::minutes(offset_minutes);
  return tp + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  std::chrono::nanoseconds(nanos));
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[u]);
  }
  return buf;
}

}  // namespace dk::op
