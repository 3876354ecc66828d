// Command dkcluster is a multi-call binary holding a real Kubernetes control
// plane built from upstream modules (kube-apiserver, kube-controller-manager,
// kube-scheduler, etcd) plus DiffKeeper's node simulator. The first argument
// picks the component; every component runs as its own OS process.
//
// The kube-* branches mirror upstream cmd/<component>/<component>.go.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // for timeZone support in CronJob

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	"diffkeeper.io/e2e/cluster/internal/nodesim"
)

const usage = `usage: dkcluster <component> [flags]

components:
  apiserver            kube-apiserver
  controller-manager   kube-controller-manager
  scheduler            kube-scheduler
  etcd                 etcd server
  nodesim              simulated kubelets (see dkcluster nodesim --help)
  version              print the pinned versions
`

// Set with -ldflags -X by e2e/cluster/up.
var (
	kubeVersion = "unknown"
	etcdVersion = "unknown"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	component := os.Args[1]
	// cobra and etcd read os.Args themselves: make argv look like the
	// upstream binary's.
	rest := os.Args[2:]
	switch component {
	case "apiserver", "kube-apiserver":
		os.Args = append([]string{"kube-apiserver"}, rest...)
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "controller-manager", "kube-controller-manager":
		os.Args = append([]string{"kube-controller-manager"}, rest...)
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "scheduler", "kube-scheduler":
		os.Args = append([]string{"kube-scheduler"}, rest...)
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "etcd":
		os.Args = append([]string{"etcd"}, rest...)
		etcdmain.Main(os.Args)
	case "nodesim":
		os.Exit(nodesim.Main(rest))
	case "version", "--version":
		fmt.Printf("dkcluster kubernetes=%s etcd=%s\n", kubeVersion, etcdVersion)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown component %q\n\n%s", filepath.Base(os.Args[0]), component, usage)
		os.Exit(2)
	}
}
