// libkube_lease_helper: one leader-election candidate in its own process, for the integration
// test (which runs two and SIGKILLs the leader).
//
//   DK_KUBECONFIG=… libkube_lease_helper <namespace> <lease> <identity> <lease_ms> <renew_ms>
//                                        <retry_ms>
//
// Prints "LEADING <identity>" when it becomes leader and "STOPPED <identity>" when it stops
// leading, one line each, flushed. SIGTERM/SIGINT: stop, release the lease, exit 0. Exits 3 when
// leadership is lost.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "libkube/client.h"
#include "libkube/kubeconfig.h"
#include "libkube/leader_elector.h"

int main(int argc, char** argv) {
  using namespace dk::kube;
  if (argc != 7 || std::getenv("DK_KUBECONFIG") == nullptr) {
    std::fprintf(stderr, "usage: DK_KUBECONFIG=… %s ns lease identity lease_ms renew_ms retry_ms\n",
                 argv[0]);
    return 2;
  }
  // Signals are handled by one thread with sigwait; block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  dk::JsonLogger logger(dk::LogLevel::kInfo, argv[3]);
  auto config = LoadKubeconfig(std::getenv("DK_KUBECONFIG"));
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 2;
  }
  ClientOptions co;
  co.logger = &logger;
  auto client = Client::Create(*config, co);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 2;
  }
  LeaderElectionConfig lc;
  lc.lease_namespace = argv[1];
  lc.lease_name = argv[2];
  lc.identity = argv[3];
  lc.lease_duration = std::chrono::milliseconds(std::atoll(argv[4]));
  lc.renew_deadline = std::chrono::milliseconds(std::atoll(argv[5]));
  lc.retry_period = std::chrono::milliseconds(std::atoll(argv[6]));
  const std::string id = argv[3];
  lc.on_started_leading = [id](Cancellation* leading) {
    std::printf("LEADING %s\n", id.c_str());
    std::fflush(stdout);
    while (leading->SleepFor(RealClock(), std::chrono::seconds(1))) {
    }
  };
  lc.on_stopped_leading = [id] {
    std::printf("STOPPED %s\n", id.c_str());
    std::fflush(stdout);
  };
  auto elector = LeaderElector::Create(client->get(), lc);
  if (!elector.ok()) {
    std::fprintf(stderr, "%s\n", elector.status().ToString().c_str());
    return 2;
  }
  Cancellation stop;
  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    stop.Cancel();
  });
  signals.detach();
  dk::Status s = (*elector)->Run(&stop);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 3;
  }
  return 0;
}
