// Durations as Kubernetes and Go write them: "300ms", "1.5h", "2h45m", "10s" (units ns, us, µs,
// ms, s, m, h; a sequence of decimal numbers each with a unit; "0" alone is allowed). This is
// the format CEL's duration() accepts in CRD validation rules, so a spec that passed the API
// server's checks parses here too.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "libstate/result.h"

namespace dk::svc {

// InvalidArgument naming the input for anything else (including negative durations and
// overflow beyond ~292 years).
Result<std::chrono::nanoseconds> ParseDuration(std::string_view s);

// The Go form of a duration ("1h2m3.5s", "250ms", "0s").
std::string FormatDuration(std::chrono::nanoseconds d);

}  // namespace dk::svc
