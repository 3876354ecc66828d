package nodesim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

const (
	hostIP      = "127.0.0.1"
	leaseNS     = "kube-node-lease"
	simLabel    = "dkcluster.diffkeeper.io/simulated"
	runtimeName = "nodesim"
)

// simNode is one simulated kubelet.
type simNode struct {
	sim      *Sim
	name     string
	idx      int
	dir      string // kubelet root of this node: <root>/<node>
	recorder record.EventRecorder
	lister   corelisters.PodLister

	mu      sync.Mutex
	down    bool
	workers map[types.UID]*podWorker
	nextIP  int
	usedIPs map[string]types.UID
	// finalized: pods this node deleted, until the informer forgets them.
	finalized map[types.UID]time.Time
	nodeUID   types.UID
}

func newSimNode(sim *Sim, name string, idx int) *simNode {
	return &simNode{
		sim:       sim,
		name:      name,
		idx:       idx,
		dir:       filepath.Join(sim.cfg.Root, name),
		recorder:  sim.events.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: name}),
		workers:   map[types.UID]*podWorker{},
		usedIPs:   map[string]types.UID{},
		nextIP:    2,
		finalized: map[types.UID]time.Time{},
	}
}

func (n *simNode) logf(format string, args ...any) {
	logf("node=%s "+format, append([]any{n.name}, args...)...)
}

func (n *simNode) downFile() string { return filepath.Join(n.dir, "down") }

func (n *simNode) isDown() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.down
}

func (n *simNode) run(ctx context.Context) {
	if err := os.MkdirAll(filepath.Join(n.dir, "pods"), 0o755); err != nil {
		n.logf("action=mkdir error=%q", err)
	}
	_, err := os.Stat(n.downFile())
	n.down = err == nil
	if n.down {
		n.logf("action=start state=down (remove %s to start the node)", n.downFile())
	}

	// Register and heartbeat until we succeed once, then start the pod
	// informer (like the kubelet, which watches pods with
	// spec.nodeName=<node>).
	for !n.down {
		if err := n.withTimeout(ctx, n.register); err != nil {
			n.logf("action=register error=%q", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
				continue
			}
		}
		break
	}

	factory := informers.NewSharedInformerFactoryWithOptions(n.sim.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", n.name).String()
		}))
	podInformer := factory.Core().V1().Pods()
	n.mu.Lock()
	n.lister = podInformer.Lister()
	n.mu.Unlock()
	_, _ = podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { n.podChanged(obj) },
		UpdateFunc: func(_, obj any) { n.podChanged(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			n.podChanged(obj)
		},
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		n.stopAll(true)
		return
	}
	n.logf("action=pods-synced")
	n.resync()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastLease := time.Now()
	lastStatus := time.Now()
	lastResync := time.Now()
	for {
		select {
		case <-ctx.Done():
			n.stopAll(true)
			factory.Shutdown()
			return
		case <-tick.C:
		}
		_, err := os.Stat(n.downFile())
		wantDown := err == nil
		if wantDown != n.isDown() {
			if wantDown {
				n.logf("action=node-down reason=%q", "control file "+n.downFile()+" exists: heartbeats stopped, pod processes killed")
				n.mu.Lock()
				n.down = true
				n.mu.Unlock()
				n.stopAll(false)
			} else {
				n.logf("action=node-up reason=%q", "control file removed: node rebooted")
				if err := n.withTimeout(ctx, n.register); err != nil {
					n.logf("action=register error=%q", err)
					continue
				}
				n.mu.Lock()
				n.down = false
				n.mu.Unlock()
				lastLease, lastStatus = time.Now(), time.Now()
				n.resync()
			}
		}
		if n.isDown() {
			continue
		}
		now := time.Now()
		if now.Sub(lastLease) >= n.sim.cfg.LeaseRenew {
			if err := n.withTimeout(ctx, n.renewLease); err != nil {
				n.logf("action=renew-lease error=%q", err)
			} else {
				lastLease = now
			}
		}
		if now.Sub(lastStatus) >= n.sim.cfg.StatusInterval {
			if err := n.withTimeout(ctx, n.updateStatus); err != nil {
				n.logf("action=node-status error=%q", err)
			} else {
				lastStatus = now
			}
		}
		if now.Sub(lastResync) >= n.sim.cfg.Resync {
			lastResync = now
			n.resync()
		}
	}
}

// withTimeout bounds one round of API calls, so that a request hanging on
// a connection to an API server that is going away cannot stall the node.
func (n *simNode) withTimeout(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return f(ctx)
}

// register creates the Node (if missing), posts a Ready status and renews
// its Lease. It never touches the Node's spec after creation, so
// cordon/uncordon and taints set by others stay.
func (n *simNode) register(ctx context.Context) error {
	c := n.sim.client.CoreV1().Nodes()
	node, err := c.Get(ctx, n.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node = &v1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: n.name,
				Labels: map[string]string{
					"kubernetes.io/hostname":  n.name,
					"kubernetes.io/os":        "linux",
					"kubernetes.io/arch":      "amd64",
					"beta.kubernetes.io/os":   "linux",
					"beta.kubernetes.io/arch": "amd64",
					simLabel:                  "true",
				},
				Annotations: map[string]string{
					"node.alpha.kubernetes.io/ttl":                           "0",
					"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				},
			},
		}
		node, err = c.Create(ctx, node, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			node, err = c.Get(ctx, n.name, metav1.GetOptions{})
		}
		if err != nil {
			return fmt.Errorf("create node: %w", err)
		}
		n.logf("action=register-node uid=%s", node.UID)
	} else if err != nil {
		return fmt.Errorf("get node: %w", err)
	}
	n.nodeUID = node.UID
	if err := n.updateStatus(ctx); err != nil {
		return err
	}
	return n.renewLease(ctx)
}

func (n *simNode) updateStatus(ctx context.Context) error {
	c := n.sim.client.CoreV1().Nodes()
	for attempt := 0; ; attempt++ {
		node, err := c.Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get node: %w", err)
		}
		n.nodeUID = node.UID
		now := metav1.Now()
		st := &node.Status
		st.Capacity = n.sim.cfg.Capacity.DeepCopy()
		st.Allocatable = n.sim.cfg.Capacity.DeepCopy()
		st.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: hostIP}, {Type: v1.NodeHostName, Address: n.name}}
		port := int32(10250)
		if n.sim.cfg.KubeletPort > 0 {
			port = int32(n.sim.cfg.KubeletPort)
		}
		st.DaemonEndpoints = v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: port}}
		st.NodeInfo = v1.NodeSystemInfo{
			MachineID:               fmt.Sprintf("dkcluster-%s", n.name),
			SystemUUID:              string(node.UID),
			BootID:                  fmt.Sprintf("%s-boot", n.name),
			KernelVersion:           "nodesim",
			OSImage:                 "DiffKeeper node simulator",
			ContainerRuntimeVersion: runtimeName + "://" + n.sim.cfg.KubeletVersion,
			KubeletVersion:          n.sim.cfg.KubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		}
		setCond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) {
			for i := range st.Conditions {
				c := &st.Conditions[i]
				if c.Type == t {
					if c.Status != s {
						c.LastTransitionTime = now
					}
					c.Status, c.Reason, c.Message, c.LastHeartbeatTime = s, reason, msg, now
					return
				}
			}
			st.Conditions = append(st.Conditions, v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now})
		}
		setCond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available")
		setCond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
		setCond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available")
		setCond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status (nodesim)")
		_, err = c.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("update node status: %w", err)
		}
		return nil
	}
}

func (n *simNode) renewLease(ctx context.Context) error {
	c := n.sim.client.CoordinationV1().Leases(leaseNS)
	now := metav1.NewMicroTime(time.Now())
	lease, err := c.Get(ctx, n.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.name, Namespace: leaseNS},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(n.name),
				LeaseDurationSeconds: ptr.To(n.sim.cfg.LeaseDuration),
				RenewTime:            &now,
			},
		}
		if n.nodeUID != "" {
			lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.name, UID: n.nodeUID}}
		}
		_, err = c.Create(ctx, lease, metav1.CreateOptions{})
		if err == nil {
			n.logf("action=create-lease")
		}
		return err
	} else if err != nil {
		return err
	}
	lease.Spec.HolderIdentity = ptr.To(n.name)
	lease.Spec.LeaseDurationSeconds = ptr.To(n.sim.cfg.LeaseDuration)
	lease.Spec.RenewTime = &now
	if len(lease.OwnerReferences) == 0 && n.nodeUID != "" {
		lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.name, UID: n.nodeUID}}
	}
	_, err = c.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// podChanged routes an informer event to the pod's worker.
func (n *simNode) podChanged(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return
	}
	n.ensureWorkerLocked(pod)
}

func (n *simNode) ensureWorkerLocked(pod *v1.Pod) {
	if w, ok := n.workers[pod.UID]; ok {
		w.poke()
		return
	}
	if pod.Spec.NodeName != n.name {
		return
	}
	if _, done := n.finalized[pod.UID]; done {
		return
	}
	// A pod that is gone from the API has no worker to start.
	if _, err := n.lister.Pods(pod.Namespace).Get(pod.Name); err != nil {
		return
	}
	w := newPodWorker(n, pod)
	n.workers[pod.UID] = w
	go w.run()
}

func (n *simNode) markFinalized(uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.finalized[uid] = time.Now()
	for u, t := range n.finalized {
		if time.Since(t) > 10*time.Minute {
			delete(n.finalized, u)
		}
	}
}

func (n *simNode) workerDone(uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.workers, uid)
	for ip, u := range n.usedIPs {
		if u == uid {
			delete(n.usedIPs, ip)
		}
	}
}

// allocIP gives a pod an address from 10.244.<node>.0/24. Pod IPs are not
// routable here (no pod network); EndpointSlice validation rejects loopback
// addresses, so they cannot be on 127.0.0.0/8 either.
func (n *simNode) allocIP(uid types.UID) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := 0; i < 253; i++ {
		ip := fmt.Sprintf("10.244.%d.%d", n.idx, n.nextIP)
		n.nextIP++
		if n.nextIP > 254 {
			n.nextIP = 2
		}
		if _, used := n.usedIPs[ip]; !used {
			n.usedIPs[ip] = uid
			return ip
		}
	}
	return fmt.Sprintf("10.244.%d.1", n.idx)
}

func (n *simNode) reserveIP(ip string, uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.usedIPs[ip] = uid
}

// resync makes sure every pod of the node has a worker, and removes pod
// directories of pods that no longer exist (kubelet housekeeping).
func (n *simNode) resync() {
	pods, err := n.lister.List(everything)
	if err != nil {
		return
	}
	n.mu.Lock()
	if n.down {
		n.mu.Unlock()
		return
	}
	known := map[types.UID]bool{}
	for _, p := range pods {
		known[p.UID] = true
		n.ensureWorkerLocked(p)
	}
	for uid := range n.workers {
		known[uid] = true
	}
	n.mu.Unlock()

	entries, err := os.ReadDir(filepath.Join(n.dir, "pods"))
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || known[types.UID(e.Name())] {
			continue
		}
		// Re-check against the API: the informer may lag behind.
		if n.podExists(types.UID(e.Name())) {
			continue
		}
		dir := filepath.Join(n.dir, "pods", e.Name())
		if err := os.RemoveAll(dir); err != nil {
			n.logf("action=cleanup-orphan dir=%s error=%q", dir, err)
		} else {
			n.logf("action=cleanup-orphan dir=%s", dir)
		}
	}
}

func (n *simNode) podExists(uid types.UID) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := n.sim.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", n.name).String(),
	})
	if err != nil {
		return true // unsure: keep
	}
	for _, p := range list.Items {
		if p.UID == uid {
			return true
		}
	}
	return false
}

// stopAll stops every pod worker. On shutdown (graceful) processes get
// SIGTERM then SIGKILL; on node down (crash) they are killed at once.
func (n *simNode) stopAll(graceful bool) {
	n.mu.Lock()
	ws := make([]*podWorker, 0, len(n.workers))
	for _, w := range n.workers {
		ws = append(ws, w)
	}
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stop(graceful)
		}()
	}
	wg.Wait()
}
