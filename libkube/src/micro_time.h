// Kubernetes time formats for objects libkube writes. Private.
#pragma once

#include <chrono>
#include <string>

namespace dk::kube {

// metav1.MicroTime: "2024-01-02T03:04:05.123456Z" (UTC).
std::string FormatMicroTime(std::chrono::system_clock::time_point t);

}  // namespace dk::kube
