#include "libsvc/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace dk::svc {
namespace {

TEST(MetricsTest, CounterRendersHelpTypeAndSeriesSortedByLabels) {
  MetricsRegistry reg;
  Counter* c = reg.AddCounter("operator_reconcile_total", "Reconciles by kind and result.",
                              {"kind", "result"});
  c->Inc({"policy", "success"});
  c->Inc({"policy", "success"}, 2);
  c->Inc({"policy", "error"});
  EXPECT_EQ(c->Value({"policy", "success"}), 3);
  EXPECT_EQ(reg.Render(),
            "# HELP diffkeeper_operator_reconcile_total Reconciles by kind and result.\n"
            "# TYPE diffkeeper_operator_reconcile_total counter\n"
            "diffkeeper_operator_reconcile_total{kind=\"policy\",result=\"error\"} 1\n"
            "diffkeeper_operator_reconcile_total{kind=\"policy\",result=\"success\"} 3\n");
}

TEST(MetricsTest, UnlabelledMetricsAreExportedAtZeroBeforeTheFirstEvent) {
  MetricsRegistry reg;
  reg.AddCounter("a_total", "A.");
  reg.AddGauge("b", "B.");
  EXPECT_EQ(
      reg.Render(),
      "# HELP diffkeeper_a_total A.\n# TYPE diffkeeper_a_total counter\ndiffkeeper_a_total 0\n"
      "# HELP diffkeeper_b B.\n# TYPE diffkeeper_b gauge\ndiffkeeper_b 0\n");
}

TEST(MetricsTest, NamesAlreadyPrefixedAreKeptAndReRegistrationReturnsTheSameFamily) {
  MetricsRegistry reg;
  Counter* a = reg.AddCounter("diffkeeper_x_total", "X.", {"k"});
  Counter* b = reg.AddCounter("x_total", "X.", {"k"});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->name(), "diffkeeper_x_total");
  EXPECT_EQ(reg.FullName("y"), "diffkeeper_y");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry reg;
  Gauge* g = reg.AddGauge("g", "Line one\nback\\slash", {"path"});
  g->Set({"a\"b\\c\nd"}, 1.5);
  EXPECT_EQ(reg.Render(),
            "# HELP diffkeeper_g Line one\\nback\\\\slash\n"
            "# TYPE diffkeeper_g gauge\n"
            "diffkeeper_g{path=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

TEST(MetricsTest, GaugeSetAddRemove) {
  MetricsRegistry reg;
  Gauge* g = reg.AddGauge("queue_depth", "Depth.", {"queue"});
  g->Set({"q"}, 5);
  g->Add({"q"}, -2);
  EXPECT_EQ(g->Value({"q"}), 3);
  g->Remove({"q"});
  EXPECT_EQ(reg.Render().find("queue=\"q\""), std::string::npos);
}

TEST(MetricsTest, CallbackGaugeIsReadAtRender) {
  MetricsRegistry reg;
  double v = 1;
  reg.AddCallbackGauge("depth", "Depth.", [&v] { return v; });
  EXPECT_NE(reg.Render().find("diffkeeper_depth 1\n"), std::string::npos);
  v = 7;
  EXPECT_NE(reg.Render().find("diffkeeper_depth 7\n"), std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry reg;
  Histogram* h =
      reg.AddHistogram("reconcile_duration_seconds", "Duration.", {"kind"}, {0.1, 1, 10});
  h->Observe({"policy"}, 0.05);
  h->Observe({"policy"}, 0.1);  // on the bound: le="0.1" includes it
  h->Observe({"policy"}, 5);
  h->Observe({"policy"}, 100);
  EXPECT_EQ(reg.Render(),
            "# HELP diffkeeper_reconcile_duration_seconds Duration.\n"
            "# TYPE diffkeeper_reconcile_duration_seconds histogram\n"
            "diffkeeper_reconcile_duration_seconds_bucket{kind=\"policy\",le=\"0.1\"} 2\n"
            "diffkeeper_reconcile_duration_seconds_bucket{kind=\"policy\",le=\"1\"} 2\n"
            "diffkeeper_reconcile_duration_seconds_bucket{kind=\"policy\",le=\"10\"} 3\n"
            "diffkeeper_reconcile_duration_seconds_bucket{kind=\"policy\",le=\"+Inf\"} 4\n"
            "diffkeeper_reconcile_duration_seconds_sum{kind=\"policy\"} 105.15\n"
            "diffkeeper_reconcile_duration_seconds_count{kind=\"policy\"} 4\n");
  Histogram::Snapshot s = h->Get({"policy"});
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.cumulative.back(), 4u);
}

TEST(MetricsTest, FormatsValuesExactlyAndSpecialValuesAsPrometheusDoes) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(42), "42");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1e21), "1e+21");
  EXPECT_EQ(FormatMetricValue(123456789012.0), "123456789012");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  double third = 1.0 / 3;
  EXPECT_EQ(std::strtod(FormatMetricValue(third).c_str(), nullptr), third);
}

TEST(MetricsTest, ExponentialBuckets) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry reg;
  Counter* c = reg.AddCounter("c_total", "C.", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c] {
      for (int i = 0; i < 10000; ++i) c->Inc({"x"});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value({"x"}), 40000);
}

TEST(MetricsDeathTest, WrongNumberOfLabelValuesIsAProgrammingError) {
  MetricsRegistry reg;
  Counter* c = reg.AddCounter("c_total", "C.", {"a", "b"});
  EXPECT_DEATH(c->Inc({"only-one"}), "1 label values for 2 labels");
}

TEST(MetricsDeathTest, InvalidNamesAndConflictingRegistrationsAbort) {
  MetricsRegistry reg;
  EXPECT_DEATH(reg.AddCounter("bad-name", "x"), "invalid metric name");
  EXPECT_DEATH(reg.AddCounter("ok_total", "x", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(reg.AddHistogram("h", "x", {"le"}), "reserved");
  reg.AddCounter("dup", "x");
  EXPECT_DEATH(reg.AddGauge("dup", "x"), "already registered");
  Counter* c = reg.AddCounter("neg_total", "x");
  EXPECT_DEATH(c->Inc({}, -1), "must be >= 0");
}

}  // namespace
}  // namespace dk::svc
