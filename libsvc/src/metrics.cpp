#include "libsvc/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace dk::svc {
namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "metrics: %s\n", msg.c_str());
  std::abort();
}

bool ValidMetricName(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool ValidLabelName(const std::string& s) {
  if (s.empty() || s.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void RenderHeader(const MetricFamily& f, std::string* out) {
  *out += "# HELP " + f.name() + " " + EscapeHelp(f.help()) + "\n";
  *out += "# TYPE " + f.name() + " " + f.type() + "\n";
}

}  // namespace

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Integral values within 2^53 print exactly, without exponent.
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (start <= 0 || factor <= 1 || count < 1) Die("ExponentialBuckets: bad arguments");
  std::vector<double> b;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

// ---------------------------------------------------------------------------- MetricFamily

void MetricFamily::CheckArity(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    Die(name_ + ": " + std::to_string(values.size()) + " label values for " +
        std::to_string(label_names_.size()) + " labels");
  }
}

std::string MetricFamily::LabelString(const LabelValues& values, const std::string& extra) const {
  if (values.empty() && extra.empty()) return "";
  std::string s = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) s += ",";
    s += label_names_[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!values.empty()) s += ",";
    s += extra;
  }
  return s + "}";
}

// ---------------------------------------------------------------------------- Counter

void Counter::Inc(const LabelValues& labels, double delta) {
  CheckArity(labels);
  if (!(delta >= 0)) Die(name() + ": counter increment must be >= 0");
  std::lock_guard<std::mutex> lock(mu_);
  values_[labels] += delta;
}

void Counter::Touch(const LabelValues& labels) {
  CheckArity(labels);
  std::lock_guard<std::mutex> lock(mu_);
  values_.try_emplace(labels, 0.0);
}

double Counter::Value(const LabelValues& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Counter::Render(std::string* out) const {
  RenderHeader(*this, out);
  std::lock_guard<std::mutex> lock(mu_);
  if (values_.empty() && label_names().empty()) {
    *out += name() + " 0\n";
    return;
  }
  for (const auto& [labels, v] : values_) {
    *out += name() + LabelString(labels) + " " + FormatMetricValue(v) + "\n";
  }
}

// ---------------------------------------------------------------------------- Gauge

void Gauge::Set(const LabelValues& labels, double value) {
  CheckArity(labels);
  std::lock_guard<std::mutex> lock(mu_);
  values_[labels] = value;
}

void Gauge::Add(const LabelValues& labels, double delta) {
  CheckArity(labels);
  std::lock_guard<std::mutex> lock(mu_);
  values_[labels] += delta;
}

void Gauge::Remove(const LabelValues& labels) {
  CheckArity(labels);
  std::lock_guard<std::mutex> lock(mu_);
  values_.erase(labels);
}

double Gauge::Value(const LabelValues& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Gauge::Render(std::string* out) const {
  RenderHeader(*this, out);
  std::lock_guard<std::mutex> lock(mu_);
  if (values_.empty() && label_names().empty()) {
    *out += name() + " 0\n";
    return;
  }
  for (const auto& [labels, v] : values_) {
    *out += name() + LabelString(labels) + " " + FormatMetricValue(v) + "\n";
  }
}

void CallbackGauge::Render(std::string* out) const {
  RenderHeader(*this, out);
  *out += name() + " " + FormatMetricValue(fn_()) + "\n";
}

// ---------------------------------------------------------------------------- Histogram

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : MetricFamily(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (std::isnan(bounds_[i]) || std::isinf(bounds_[i]) ||
        (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Die(this->name() + ": histogram bounds must be finite and strictly increasing");
    }
  }
}

void Histogram::Observe(const LabelValues& labels, double value) {
  CheckArity(labels);
  size_t idx = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series_[labels];
  if (s.counts.empty()) s.counts.assign(bounds_.size() + 1, 0);
  s.counts[idx] += 1;
  s.sum += value;
  s.count += 1;
}

Histogram::Snapshot Histogram::Get(const LabelValues& labels) const {
  Snapshot snap;
  snap.cumulative.assign(bounds_.size() + 1, 0);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(labels);
  if (it == series_.end()) return snap;
  uint64_t running = 0;
  for (size_t i = 0; i < it->second.counts.size(); ++i) {
    running += it->second.counts[i];
    snap.cumulative[i] = running;
  }
  snap.sum = it->second.sum;
  snap.count = it->second.count;
  return snap;
}

void Histogram::Render(std::string* out) const {
  RenderHeader(*this, out);
  std::lock_guard<std::mutex> lock(mu_);
  auto render_series = [&](const LabelValues& labels, const Series* s) {
    uint64_t running = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      if (s != nullptr) running += s->counts[i];
      std::string le = i < bounds_.size() ? FormatMetricValue(bounds_[i]) : "+Inf";
      *out += name() + "_bucket" + LabelString(labels, "le=\"" + le + "\"") + " " +
              std::to_string(running) + "\n";
    }
    *out += name() + "_sum" + LabelString(labels) + " " +
            FormatMetricValue(s != nullptr ? s->sum : 0) + "\n";
    *out += name() + "_count" + LabelString(labels) + " " +
            std::to_string(s != nullptr ? s->count : 0) + "\n";
  };
  if (series_.empty() && label_names().empty()) {
    render_series({}, nullptr);
    return;
  }
  for (const auto& [labels, s] : series_) render_series(labels, &s);
}

// ---------------------------------------------------------------------------- Registry

MetricsRegistry::MetricsRegistry(std::string prefix) : prefix_(std::move(prefix)) {}

std::string MetricsRegistry::FullName(const std::string& name) const {
  if (name.rfind(prefix_, 0) == 0) return name;
  return prefix_ + name;
}

template <typename T, typename... Args>
T* MetricsRegistry::Register(const std::string& name, const std::vector<std::string>& label_names,
                             Args&&... args) {
  std::string full = FullName(name);
  if (!ValidMetricName(full)) Die("invalid metric name \"" + full + "\"");
  for (const auto& l : label_names) {
    if (!ValidLabelName(l)) Die(full + ": invalid label name \"" + l + "\"");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(full);
  if (it != families_.end()) {
    T* existing = dynamic_cast<T*>(it->second.get());
    if (existing == nullptr || existing->label_names() != label_names ||
        std::is_same_v<T, CallbackGauge>) {
      Die(full + " is already registered with another type or other labels");
    }
    return existing;
  }
  auto family = std::make_unique<T>(full, std::forward<Args>(args)...);
  T* raw = family.get();
  families_.emplace(full, std::move(family));
  return raw;
}

Counter* MetricsRegistry::AddCounter(const std::string& name, std::string help,
                                     std::vector<std::string> label_names) {
  return Register<Counter>(name, label_names, std::move(help), label_names);
}

Gauge* MetricsRegistry::AddGauge(const std::string& name, std::string help,
                                 std::vector<std::string> label_names) {
  return Register<Gauge>(name, label_names, std::move(help), label_names);
}

CallbackGauge* MetricsRegistry::AddCallbackGauge(const std::string& name, std::string help,
                                                 std::function<double()> fn) {
  return Register<CallbackGauge>(name, {}, std::move(help), std::move(fn));
}

Histogram* MetricsRegistry::AddHistogram(const std::string& name, std::string help,
                                         std::vector<std::string> label_names,
                                         std::vector<double> bounds) {
  for (const auto& l : label_names) {
    if (l == "le") Die(FullName(name) + ": \"le\" is reserved in histograms");
  }
  return Register<Histogram>(name, label_names, std::move(help), label_names, std::move(bounds));
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, family] : families_) family->Render(&out);
  return out;
}

}  // namespace dk::svc
