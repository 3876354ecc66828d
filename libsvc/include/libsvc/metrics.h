// MetricsRegistry: counters, gauges and histograms with labels, rendered in the Prometheus text
// exposition format (version 0.0.4).
//
// Every metric is a family: a name, a help text, declared label names and one series per
// distinct tuple of label values (given in the declared order). Names get the registry prefix
// ("diffkeeper_") unless they already start with it. Registering a name again with the same
// type, help and labels returns the existing family; anything else about names is a programming
// error and aborts with a message (invalid metric or label name, a name registered with
// another type or other labels, a wrong number of label values, a negative counter increment).
//
// Families are owned by the registry and live as long as it does. Thread-safe: all methods may
// be called concurrently. Render() orders families by name and series by label values, so the
// output is deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dk::svc {

using LabelValues = std::vector<std::string>;

class MetricFamily {
 public:
  virtual ~MetricFamily() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual const char* type() const = 0;
  // Appends the family's HELP, TYPE and sample lines.
  virtual void Render(std::string* out) const = 0;

 protected:
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  void CheckArity(const LabelValues& values) const;
  // `{a="x",b="y"}` (with `extra` appended, e.g. le="0.5"), or "" without labels.
  std::string LabelString(const LabelValues& values, const std::string& extra = "") const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};

class Counter final : public MetricFamily {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names)
      : MetricFamily(std::move(name), std::move(help), std::move(label_names)) {}
  // Adds `delta` (>= 0) to the series of `labels`, creating it at 0 first.
  void Inc(const LabelValues& labels = {}, double delta = 1);
  // Creates the series at 0 if absent (so it is exported before the first event).
  void Touch(const LabelValues& labels = {});
  double Value(const LabelValues& labels = {}) const;  // 0 for an absent series
  const char* type() const override { return "counter"; }
  void Render(std::string* out) const override;

 private:
  mutable std::mutex mu_;
  std::map<LabelValues, double> values_;
};

class Gauge final : public MetricFamily {
 public:
  Gauge(std::string name, std::string help, std::vector<std::string> label_names)
      : MetricFamily(std::move(name), std::move(help), std::move(label_names)) {}
  void Set(const LabelValues& labels, double value);
  void Set(double value) { Set({}, value); }
  void Add(const LabelValues& labels, double delta);
  // Drops a series (e.g. for a pod that went away).
  void Remove(const LabelValues& labels);
  double Value(const LabelValues& labels = {}) const;
  const char* type() const override { return "gauge"; }
  void Render(std::string* out) const override;

 private:
  mutable std::mutex mu_;
  std::map<LabelValues, double> values_;
};

// A gauge without labels whose value is read from a callback at every Render() (queue depth,
// open connections). The callback must be thread-safe and must not call into the registry.
class CallbackGauge final : public MetricFamily {
 public:
  CallbackGauge(std::string name, std::string help, std::function<double()> fn)
      : MetricFamily(std::move(name), std::move(help), {}), fn_(std::move(fn)) {}
  const char* type() const override { return "gauge"; }
  void Render(std::string* out) const override;

 private:
  std::function<double()> fn_;
};

class Histogram final : public MetricFamily {
 public:
  // `bounds`: strictly increasing upper bounds; +Inf is implicit.
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bounds);
  void Observe(const LabelValues& labels, double value);
  void Observe(double value) { Observe({}, value); }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Get(const LabelValues& labels = {}) const;  // zeros for an absent series
  const std::vector<double>& bounds() const { return bounds_; }
  const char* type() const override { return "histogram"; }
  void Render(std::string* out) const override;

 private:
  struct Series {
    std::vector<uint64_t> counts;  // per bucket (not cumulative), +Inf last
    double sum = 0;
    uint64_t count = 0;
  };
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<LabelValues, Series> series_;
};

// Default latency buckets in seconds (5 ms … 60 s).
std::vector<double> DefaultLatencyBuckets();
// `count` buckets: start, start*factor, start*factor^2, …
std::vector<double> ExponentialBuckets(double start, double factor, int count);

class MetricsRegistry {
 public:
  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

  explicit MetricsRegistry(std::string prefix = "diffkeeper_");
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter* AddCounter(const std::string& name, std::string help,
                      std::vector<std::string> label_names = {});
  Gauge* AddGauge(const std::string& name, std::string help,
                  std::vector<std::string> label_names = {});
  CallbackGauge* AddCallbackGauge(const std::string& name, std::string help,
                                  std::function<double()> fn);
  Histogram* AddHistogram(const std::string& name, std::string help,
                          std::vector<std::string> label_names,
                          std::vector<double> bounds = DefaultLatencyBuckets());

  // The whole registry in the text format.
  std::string Render() const;
  // The prefixed name as registered ("reconcile_total" → "diffkeeper_reconcile_total").
  std::string FullName(const std::string& name) const;

 private:
  template <typename T, typename... Args>
  T* Register(const std::string& name, const std::vector<std::string>& label_names, Args&&... args);

  const std::string prefix_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<MetricFamily>> families_;
};

// Text-format helpers (exposed for tests).
// A sample value: shortest round-trip decimal, "+Inf", "-Inf" or "NaN".
std::string FormatMetricValue(double v);
// Escapes a label value (\\, \", \n).
std::string EscapeLabelValue(const std::string& v);
// Escapes a HELP text (\\, \n).
std::string EscapeHelp(const std::string& v);

}  // namespace dk::svc
