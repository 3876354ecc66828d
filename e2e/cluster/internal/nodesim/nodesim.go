// Package nodesim plays the kubelet for a set of simulated nodes: it
// registers Node objects and keeps them Ready (Lease + status heartbeats),
// and for every pod bound to one of its nodes it lays out the pod's volume
// directories the way the kubelet does (<root>/<node>/pods/<uid>/volumes/…),
// runs init containers in order, runs containers whose command is known as
// host processes, reports pod status, and finalizes deleted pods.
//
// There is no container engine: a container is "run" as a host process when
// the basename of its command[0] (or, with no command, the last path element
// of its image without tag) is a key of the --exec map. Other containers are
// only reported as running (init containers: completed).
//
// Control files: <root>/<node>/down stops the node (no more heartbeats, its
// pod processes are killed as in a crash, its pods are no longer managed).
// Removing the file brings the node back, like a reboot.
package nodesim

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// hostPathRule rewrites hostPath volume paths under Prefix to Template
// (with {root} and {node} substituted), so that each simulated node gets
// its own copy of e.g. /var/lib/kubelet.
type hostPathRule struct {
	Prefix   string
	Template string
}

// Config is the simulator's configuration.
type Config struct {
	Kubeconfig     string
	Nodes          []string
	Root           string
	Exec           map[string]string
	HostPathRules  []hostPathRule
	Capacity       v1.ResourceList
	LeaseDuration  int32
	LeaseRenew     time.Duration
	StatusInterval time.Duration
	Resync         time.Duration
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	KillGrace      time.Duration // cap on terminationGracePeriodSeconds
	FinalizeDelay  time.Duration // minimum time from deletionTimestamp to the final delete
	KubeletVersion string
	KubeletPort    int // port of the kubelet API (containerLogs) on 127.0.0.1; 0: none
	// Address of the API server as seen by host processes
	// (KUBERNETES_SERVICE_HOST / _PORT).
	APIHost, APIPort string
}

// Sim is a running simulator.
type Sim struct {
	cfg    Config
	client kubernetes.Interface
	events record.EventBroadcaster
	nodes  []*simNode
}

// logf writes one line per action.
func logf(format string, args ...any) {
	log.Printf(format, args...)
}

// Main is the entry point of `dkcluster nodesim`.
func Main(args []string) int {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetOutput(os.Stdout)
	fs := flag.NewFlagSet("nodesim", flag.ContinueOnError)
	var (
		cfg      Config
		nodes    string
		execs    multiFlag
		hostMaps multiFlag
		cpu      = fs.String("cpu", "8", "cpu capacity of each node")
		memory   = fs.String("memory", "32Gi", "memory capacity of each node")
		pods     = fs.String("max-pods", "110", "pod capacity of each node")
		storage  = fs.String("ephemeral-storage", "100Gi", "ephemeral-storage capacity of each node")
	)
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	fs.StringVar(&nodes, "nodes", "node-1", "comma-separated node names")
	fs.StringVar(&cfg.Root, "root", "/tmp/dkcluster/nodes", "directory holding one kubelet root per node: <root>/<node>")
	fs.Var(&execs, "exec", "name=/host/binary: run containers whose command[0] basename (or image name, when no command) is name as host processes (repeatable)")
	fs.Var(&hostMaps, "hostpath-map", "PREFIX=TEMPLATE: hostPath volumes under PREFIX go to TEMPLATE ({root}, {node} substituted) (repeatable)")
	fs.DurationVar(&cfg.LeaseRenew, "lease-renew", 10*time.Second, "node Lease renew interval")
	lease := fs.Int("lease-duration", 40, "node Lease duration in seconds")
	fs.DurationVar(&cfg.StatusInterval, "status-interval", 20*time.Second, "node status update interval")
	fs.DurationVar(&cfg.Resync, "resync", 10*time.Second, "pod resync / housekeeping interval")
	fs.DurationVar(&cfg.BackoffInitial, "backoff-initial", 10*time.Second, "first crash-loop back-off (kubelet: 10s)")
	fs.DurationVar(&cfg.BackoffMax, "backoff-max", 300*time.Second, "maximum crash-loop back-off (kubelet: 5m)")
	fs.DurationVar(&cfg.KillGrace, "max-grace", 30*time.Second, "cap on the termination grace period used when killing processes")
	fs.DurationVar(&cfg.FinalizeDelay, "finalize-delay", time.Second, "minimum time between seeing a pod's deletion and finalizing it (a kubelet takes about this long)")
	fs.StringVar(&cfg.KubeletVersion, "kubelet-version", "v1.34.4", "version reported in node.status.nodeInfo")
	fs.IntVar(&cfg.KubeletPort, "kubelet-port", 0, "serve the kubelet API subset for `kubectl logs` on 127.0.0.1:PORT (0: off); reported in node.status.daemonEndpoints")
	kubeletCert := fs.String("kubelet-tls-cert", "", "serving certificate of the kubelet API")
	kubeletKey := fs.String("kubelet-tls-key", "", "serving key of the kubelet API")
	kubeletCA := fs.String("kubelet-client-ca", "", "CA that kubelet API clients (the API server) must present a certificate from")
	fs.StringVar(&cfg.APIHost, "api-host", "", "KUBERNETES_SERVICE_HOST for host processes (default: from kubeconfig)")
	fs.StringVar(&cfg.APIPort, "api-port", "", "KUBERNETES_SERVICE_PORT for host processes (default: from kubeconfig)")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	fs.Func("v", "client-go (klog) log verbosity", func(v string) error { return klogFlags.Set("v", v) })
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.LeaseDuration = int32(*lease)
	for _, n := range strings.Split(nodes, ",") {
		if n = strings.TrimSpace(n); n != "" {
			cfg.Nodes = append(cfg.Nodes, n)
		}
	}
	if len(cfg.Nodes) == 0 {
		fmt.Fprintln(os.Stderr, "nodesim: --nodes is empty")
		return 2
	}
	cfg.Exec = map[string]string{}
	for _, e := range execs {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" || v == "" {
			fmt.Fprintf(os.Stderr, "nodesim: bad --exec %q (want name=/path)\n", e)
			return 2
		}
		abs, err := filepath.Abs(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "nodesim: --exec %q: %v\n", e, err)
			return 2
		}
		cfg.Exec[k] = abs
	}
	for _, e := range hostMaps {
		k, v, ok := strings.Cut(e, "=")
		if !ok || !strings.HasPrefix(k, "/") || v == "" {
			fmt.Fprintf(os.Stderr, "nodesim: bad --hostpath-map %q (want /prefix=template)\n", e)
			return 2
		}
		cfg.HostPathRules = append(cfg.HostPathRules, hostPathRule{Prefix: filepath.Clean(k), Template: v})
	}
	// Longest prefix first.
	sort.Slice(cfg.HostPathRules, func(i, j int) bool {
		return len(cfg.HostPathRules[i].Prefix) > len(cfg.HostPathRules[j].Prefix)
	})
	var err error
	cfg.Capacity = v1.ResourceList{}
	for name, val := range map[v1.ResourceName]string{
		v1.ResourceCPU: *cpu, v1.ResourceMemory: *memory, v1.ResourcePods: *pods, v1.ResourceEphemeralStorage: *storage,
	} {
		q, perr := resource.ParseQuantity(val)
		if perr != nil {
			fmt.Fprintf(os.Stderr, "nodesim: bad %s quantity %q: %v\n", name, val, perr)
			return 2
		}
		cfg.Capacity[name] = q
	}
	if cfg.Root, err = filepath.Abs(cfg.Root); err != nil {
		fmt.Fprintln(os.Stderr, "nodesim:", err)
		return 2
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodesim: kubeconfig:", err)
		return 1
	}
	restCfg.QPS = 50
	restCfg.Burst = 100
	restCfg.UserAgent = "dkcluster-nodesim"
	if cfg.APIHost == "" || cfg.APIPort == "" {
		u, perr := url.Parse(restCfg.Host)
		if perr == nil {
			h, p, serr := net.SplitHostPort(u.Host)
			if serr != nil {
				h, p = u.Host, "443"
			}
			if cfg.APIHost == "" {
				cfg.APIHost = h
			}
			if cfg.APIPort == "" {
				cfg.APIPort = p
			}
		}
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodesim: client:", err)
		return 1
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()

	sim := &Sim{cfg: cfg, client: client}
	sim.events = broadcaster

	logf("nodesim: starting nodes=%s root=%s exec=%v api=%s:%s", strings.Join(cfg.Nodes, ","), cfg.Root, cfg.Exec, cfg.APIHost, cfg.APIPort)
	var wg sync.WaitGroup
	for i, name := range cfg.Nodes {
		n := newSimNode(sim, name, i+1)
		sim.nodes = append(sim.nodes, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.run(ctx)
		}()
	}
	if cfg.KubeletPort > 0 {
		if err := sim.serveKubeletAPI(ctx, fmt.Sprintf("%s:%d", hostIP, cfg.KubeletPort), *kubeletCert, *kubeletKey, *kubeletCA); err != nil {
			fmt.Fprintln(os.Stderr, "nodesim:", err)
			cancel()
			wg.Wait()
			return 1
		}
	}
	// SIGUSR1: dump goroutines to stderr (debugging a stuck simulator).
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		}
	}()
	<-ctx.Done()
	logf("nodesim: shutting down, stopping pod processes")
	wg.Wait()
	logf("nodesim: stopped")
	return 0
}
