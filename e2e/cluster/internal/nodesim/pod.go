package nodesim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var everything = labels.Everything()

type ctrPhase int

const (
	waiting ctrPhase = iota
	running
	terminated
)

// ctr is the simulated runtime state of one container of a pod.
type ctr struct {
	spec    v1.Container
	init    bool
	sidecar bool   // restartable init container (restartPolicy: Always)
	binary  string // host binary, "" when the command is not in the exec map

	phase        ctrPhase
	waitReason   string
	waitMessage  string
	startedAt    time.Time
	term         *v1.ContainerStateTerminated
	lastTerm     *v1.ContainerStateTerminated
	restarts     int32
	everStarted  bool
	backoff      time.Duration
	backoffUntil time.Time
	proc         *process
}

func (c *ctr) id(uid types.UID) string {
	u := string(uid)
	if len(u) > 8 {
		u = u[:8]
	}
	return fmt.Sprintf("%s://%s-%s-%d", runtimeName, u, c.spec.Name, c.restarts)
}

// podWorker plays the kubelet's pod worker for one pod UID.
type podWorker struct {
	n         *simNode
	uid       types.UID
	namespace string
	name      string

	pokeCh chan struct{}
	stopCh chan bool // value: graceful
	done   chan struct{}

	mu              sync.Mutex
	prepared        bool
	prepErr         string
	podIP           string
	startTime       time.Time
	volumes         map[string]string // volume name -> host path
	init            []*ctr
	main            []*ctr
	initIdx         int
	initDone        bool
	initFailed      bool
	terminal        v1.PodPhase // Succeeded / Failed once reached
	terminalFromAPI bool
	lastPosted      *v1.PodStatus
	lastPostAt      time.Time
}

func newPodWorker(n *simNode, pod *v1.Pod) *podWorker {
	w := &podWorker{
		n:         n,
		uid:       pod.UID,
		namespace: pod.Namespace,
		name:      pod.Name,
		pokeCh:    make(chan struct{}, 1),
		stopCh:    make(chan bool, 1),
		done:      make(chan struct{}),
	}
	for _, c := range pod.Spec.InitContainers {
		w.init = append(w.init, &ctr{spec: c, init: true,
			sidecar: c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways,
			binary:  n.sim.binaryFor(c)})
	}
	for _, c := range pod.Spec.Containers {
		w.main = append(w.main, &ctr{spec: c, binary: n.sim.binaryFor(c)})
	}
	// Carry restart counts over a simulator or node restart.
	carry := func(cs []*ctr, sts []v1.ContainerStatus) {
		for _, c := range cs {
			for _, s := range sts {
				if s.Name != c.spec.Name {
					continue
				}
				c.restarts = s.RestartCount
				if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
					c.everStarted = true
				}
				if s.LastTerminationState.Terminated != nil {
					c.lastTerm = s.LastTerminationState.Terminated.DeepCopy()
				}
			}
		}
	}
	carry(w.init, pod.Status.InitContainerStatuses)
	carry(w.main, pod.Status.ContainerStatuses)
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		w.terminal = pod.Status.Phase
		w.terminalFromAPI = true
	}
	return w
}

// binaryFor maps a container to a host binary through the exec map.
func (s *Sim) binaryFor(c v1.Container) string {
	if len(c.Command) > 0 {
		return s.cfg.Exec[filepath.Base(c.Command[0])]
	}
	return s.cfg.Exec[imageName(c.Image)]
}

// imageName returns the last path element of an image reference without
// tag or digest: "registry:5000/x/diffkeeper-agent:v1" -> "diffkeeper-agent".
func imageName(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, "/"); i >= 0 {
		image = image[i+1:]
	}
	if i := strings.Index(image, ":"); i >= 0 {
		image = image[:i]
	}
	return image
}

func (w *podWorker) logf(format string, args ...any) {
	logf("node=%s pod=%s/%s uid=%s "+format, append([]any{w.n.name, w.namespace, w.name, w.uid}, args...)...)
}

func (w *podWorker) poke() {
	select {
	case w.pokeCh <- struct{}{}:
	default:
	}
}

// stop ends the worker without touching the API: graceful on simulator
// shutdown, a crash (SIGKILL) on node down.
func (w *podWorker) stop(graceful bool) {
	select {
	case w.stopCh <- graceful:
	default:
	}
	<-w.done
}

func (w *podWorker) podDir() string { return filepath.Join(w.n.dir, "pods", string(w.uid)) }

func (w *podWorker) run() {
	defer w.n.workerDone(w.uid)
	defer close(w.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-w.pokeCh:
			case <-tick.C:
			case graceful := <-w.stopCh:
				if graceful {
					w.killAll(5*time.Second, "simulator shutdown")
				} else {
					w.killAll(0, "node down")
				}
				return
			}
		}
		pod, err := w.n.lister.Pods(w.namespace).Get(w.name)
		if err != nil || pod.UID != w.uid {
			// Gone from the API (force-deleted, or finalized).
			w.killAll(2*time.Second, "pod removed from the API")
			w.removeDir()
			w.logf("action=forget reason=%q", "pod no longer in the API")
			return
		}
		if pod.DeletionTimestamp != nil {
			w.terminate(pod)
			return
		}
		w.sync(pod)
	}
}

// terminate kills the pod's processes within its grace period, removes the
// pod directory and finalizes the pod, as the kubelet does.
func (w *podWorker) terminate(pod *v1.Pod) {
	grace := int64(30)
	if pod.DeletionGracePeriodSeconds != nil {
		grace = *pod.DeletionGracePeriodSeconds
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	d := time.Duration(grace) * time.Second
	if d > w.n.sim.cfg.KillGrace {
		d = w.n.sim.cfg.KillGrace
	}
	w.logf("action=kill-pod grace=%s", d)
	w.mu.Lock()
	for _, c := range append(append([]*ctr{}, w.main...), w.init...) {
		if c.phase == running {
			w.n.recorder.Eventf(pod, v1.EventTypeNormal, "Killing", "Stopping container %s", c.spec.Name)
		}
	}
	w.mu.Unlock()
	start := time.Now()
	w.killAll(d, "pod deleted")
	// Report the containers terminated and the pod in a terminal phase
	// before deleting it, as the kubelet does.
	w.mu.Lock()
	if w.terminal == "" {
		phase := v1.PodSucceeded
		for _, c := range w.main {
			if c.phase != terminated || c.term == nil || c.term.ExitCode != 0 {
				phase = v1.PodFailed
			}
		}
		w.terminal = phase
	}
	if !w.terminalFromAPI {
		w.postStatus(pod)
	}
	w.mu.Unlock()
	// The kubelet takes a moment between stopping containers and deleting
	// the pod; deleting within milliseconds makes `kubectl delete --wait`
	// miss the deletion when a controller re-creates the pod under the
	// same name at once.
	if rest := w.n.sim.cfg.FinalizeDelay - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	w.removeDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempt := 0; attempt < 10; attempt++ {
		err := w.n.sim.client.CoreV1().Pods(w.namespace).Delete(ctx, w.name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To(int64(0)),
			Preconditions:      &metav1.Preconditions{UID: ptr.To(w.uid)},
		})
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			w.n.markFinalized(w.uid)
			w.logf("action=finalize-pod")
			return
		}
		w.logf("action=finalize-pod error=%q", err)
		time.Sleep(time.Second)
	}
}

func (w *podWorker) removeDir() {
	dir := w.podDir()
	if _, err := os.Stat(dir); err != nil {
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		w.logf("action=remove-pod-dir dir=%s error=%q", dir, err)
		return
	}
	w.logf("action=remove-pod-dir dir=%s", dir)
}

// killAll stops every running process: SIGTERM, then SIGKILL after grace.
func (w *podWorker) killAll(grace time.Duration, why string) {
	w.mu.Lock()
	var procs []*process
	var names []string
	for _, c := range append(append([]*ctr{}, w.main...), w.init...) {
		if c.proc != nil {
			procs = append(procs, c.proc)
			names = append(names, c.spec.Name)
		}
		if c.phase == running && c.binary == "" {
			now := time.Now()
			c.phase = terminated
			c.term = &v1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
				StartedAt: mt(c.startedAt), FinishedAt: mt(now), ContainerID: c.id(w.uid)}
		}
	}
	w.mu.Unlock()
	if len(procs) == 0 {
		return
	}
	sig := syscall.SIGTERM
	if grace <= 0 {
		sig = syscall.SIGKILL
	}
	sigName := "SIGTERM"
	if sig == syscall.SIGKILL {
		sigName = "SIGKILL"
	}
	w.logf("action=kill-processes containers=%s signal=%s reason=%q", strings.Join(names, ","), sigName, why)
	for _, p := range procs {
		p.signal(sig)
	}
	deadline := time.After(grace)
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-deadline:
			deadline = nil // closed channel semantics: fall through for the rest
			for _, q := range procs {
				q.signal(syscall.SIGKILL)
			}
			w.logf("action=kill-processes signal=SIGKILL reason=%q", "grace period expired")
			<-p.exited
		}
	}
}

// sync advances the pod one step and posts its status when it changed.
func (w *podWorker) sync(pod *v1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.terminalFromAPI {
		// Finished before this worker started: nothing to run or report.
		return
	}
	if w.terminal != "" {
		w.postStatus(pod)
		return
	}
	if !w.prepared {
		if w.podIP == "" {
			switch {
			case pod.Spec.HostNetwork:
				w.podIP = hostIP
			case pod.Status.PodIP != "":
				w.podIP = pod.Status.PodIP
				w.n.reserveIP(w.podIP, w.uid)
			default:
				w.podIP = w.n.allocIP(w.uid)
			}
		}
		if w.startTime.IsZero() {
			if pod.Status.StartTime != nil {
				w.startTime = pod.Status.StartTime.Time
			} else {
				w.startTime = time.Now()
			}
		}
		vols, err := w.prepareVolumes(pod)
		if err != nil {
			if err.Error() != w.prepErr {
				w.prepErr = err.Error()
				w.logf("action=mount-volumes error=%q", err)
				w.n.recorder.Eventf(pod, v1.EventTypeWarning, "FailedMount", "%v", err)
			}
			w.postStatus(pod)
			return
		}
		w.volumes = vols
		w.prepared = true
		w.logf("action=pod-sandbox ip=%s dir=%s volumes=%d", w.podIP, w.podDir(), len(vols))
	}

	now := time.Now()
	// Init containers, in order.
	for !w.initDone && !w.initFailed && w.initIdx < len(w.init) {
		c := w.init[w.initIdx]
		if c.sidecar {
			w.drive(pod, c, v1.RestartPolicyAlways, now)
			if c.phase == running {
				w.initIdx++
				continue
			}
			break
		}
		if c.phase == waiting {
			if now.Before(c.backoffUntil) {
				break
			}
			w.start(pod, c)
		}
		if c.phase == running {
			break
		}
		// terminated
		if c.term.ExitCode == 0 {
			w.initIdx++
			continue
		}
		if pod.Spec.RestartPolicy == v1.RestartPolicyNever {
			w.initFailed = true
			w.logf("action=init-failed container=%s exit=%d", c.spec.Name, c.term.ExitCode)
			break
		}
		w.scheduleRestart(pod, c, now)
		if c.phase == waiting && now.Before(c.backoffUntil) {
			break
		}
		w.start(pod, c)
		break
	}
	if !w.initDone && w.initIdx >= len(w.init) && !w.initFailed {
		w.initDone = true
		if len(w.init) > 0 {
			w.logf("action=initialized")
		}
	}
	if w.initDone {
		for _, c := range w.init {
			if c.sidecar {
				w.drive(pod, c, v1.RestartPolicyAlways, now)
			}
		}
		for _, c := range w.main {
			w.drive(pod, c, pod.Spec.RestartPolicy, now)
		}
	}
	w.postStatus(pod)
}

// drive starts or restarts a container according to the restart policy.
func (w *podWorker) drive(pod *v1.Pod, c *ctr, policy v1.RestartPolicy, now time.Time) {
	switch c.phase {
	case running:
		return
	case waiting:
		if now.Before(c.backoffUntil) {
			return
		}
		w.start(pod, c)
	case terminated:
		restart := policy == v1.RestartPolicyAlways ||
			(policy == v1.RestartPolicyOnFailure && c.term.ExitCode != 0)
		if !restart {
			return
		}
		w.scheduleRestart(pod, c, now)
		if c.phase == waiting && !now.Before(c.backoffUntil) {
			w.start(pod, c)
		}
	}
}

// scheduleRestart applies the kubelet's crash-loop back-off: the first
// restart is immediate, then 10s, 20s, … up to 5m; a container that ran
// for 10 minutes resets its back-off.
func (w *podWorker) scheduleRestart(pod *v1.Pod, c *ctr, now time.Time) {
	if c.term == nil {
		return
	}
	cfg := w.n.sim.cfg
	if !c.startedAt.IsZero() && c.term.FinishedAt.Sub(c.startedAt) > 2*cfg.BackoffMax {
		c.backoff = 0
	}
	c.lastTerm = c.term
	c.term = nil
	c.phase = waiting
	if c.backoff == 0 {
		c.backoff = cfg.BackoffInitial
		c.backoffUntil = time.Time{}
		return
	}
	c.backoffUntil = now.Add(c.backoff)
	c.waitReason = "CrashLoopBackOff"
	c.waitMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", c.backoff, c.spec.Name, pod.Name, pod.Namespace, pod.UID)
	w.logf("action=back-off container=%s delay=%s", c.spec.Name, c.backoff)
	w.n.recorder.Eventf(pod, v1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.spec.Name, pod.Name, pod.Namespace, pod.UID)
	c.backoff *= 2
	if c.backoff > cfg.BackoffMax {
		c.backoff = cfg.BackoffMax
	}
}

// start runs a container: a host process when its command is known,
// otherwise it is only marked running (or, for an init container,
// completed).
func (w *podWorker) start(pod *v1.Pod, c *ctr) {
	if c.everStarted {
		c.restarts++
	}
	kind := "container"
	if c.init {
		kind = "init-container"
	}
	if c.binary == "" {
		c.everStarted = true
		now := time.Now()
		c.startedAt = now
		c.waitReason, c.waitMessage = "", ""
		if c.init && !c.sidecar {
			c.phase = terminated
			c.term = &v1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
				StartedAt: mt(now), FinishedAt: mt(now), ContainerID: c.id(w.uid)}
			w.logf("action=complete-%s container=%s mode=simulated reason=%q", kind, c.spec.Name, "command not in the exec map")
		} else {
			c.phase = running
			w.logf("action=start-%s container=%s mode=simulated reason=%q", kind, c.spec.Name, "command not in the exec map")
		}
		w.n.recorder.Eventf(pod, v1.EventTypeNormal, "Started", "Started container %s", c.spec.Name)
		return
	}
	// onExit runs in the process's wait goroutine before p.exited is closed,
	// so whoever waits on p.exited sees the container terminated.
	onExit := func(p *process) {
		w.mu.Lock()
		if c.proc == p {
			c.proc = nil
			c.phase = terminated
			reason := "Completed"
			if p.exitCode != 0 {
				reason = "Error"
			}
			c.term = &v1.ContainerStateTerminated{ExitCode: p.exitCode, Signal: p.signaled, Reason: reason,
				StartedAt: mt(p.started), FinishedAt: mt(p.finished), ContainerID: c.id(w.uid)}
		}
		w.mu.Unlock()
		w.logf("action=%s-exited container=%s pid=%d exit=%d", kind, c.spec.Name, p.cmd.Process.Pid, p.exitCode)
		w.poke()
	}
	p, err := w.startProcess(pod, c, onExit)
	if err != nil {
		if cfgErr, ok := err.(*configError); ok {
			// Like CreateContainerConfigError: retried, no restart counted.
			if c.everStarted {
				c.restarts--
			}
			if c.waitMessage != cfgErr.Error() {
				w.logf("action=start-%s container=%s error=%q", kind, c.spec.Name, cfgErr)
				w.n.recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %v", cfgErr)
			}
			c.phase = waiting
			c.waitReason = "CreateContainerConfigError"
			c.waitMessage = cfgErr.Error()
			c.backoffUntil = time.Now().Add(2 * time.Second)
			return
		}
		now := time.Now()
		c.everStarted = true
		c.phase = terminated
		c.term = &v1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(),
			StartedAt: mt(now), FinishedAt: mt(now), ContainerID: c.id(w.uid)}
		w.logf("action=start-%s container=%s error=%q", kind, c.spec.Name, err)
		w.n.recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %v", err)
		return
	}
	c.everStarted = true
	c.phase = running
	c.proc = p
	c.startedAt = p.started
	c.waitReason, c.waitMessage = "", ""
	w.logf("action=start-%s container=%s pid=%d argv=%q log=%s", kind, c.spec.Name, p.cmd.Process.Pid, p.cmd.Args, p.logPath)
	w.n.recorder.Eventf(pod, v1.EventTypeNormal, "Started", "Started container %s", c.spec.Name)
}

func mt(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// status builds the pod status the kubelet would report.
func (w *podWorker) status(pod *v1.Pod) *v1.PodStatus {
	st := pod.Status.DeepCopy()
	st.ObservedGeneration = pod.Generation
	st.HostIP = hostIP
	st.HostIPs = []v1.HostIP{{IP: hostIP}}
	if w.podIP != "" {
		st.PodIP = w.podIP
		st.PodIPs = []v1.PodIP{{IP: w.podIP}}
	}
	if !w.startTime.IsZero() {
		t := mt(w.startTime)
		st.StartTime = &t
	}
	ctrStatus := func(c *ctr) v1.ContainerStatus {
		cs := v1.ContainerStatus{
			Name:         c.spec.Name,
			Image:        c.spec.Image,
			ImageID:      runtimeName + "://" + c.spec.Image,
			RestartCount: c.restarts,
		}
		if c.everStarted {
			cs.ContainerID = c.id(w.uid)
		}
		if c.lastTerm != nil {
			cs.LastTerminationState.Terminated = c.lastTerm.DeepCopy()
		}
		switch c.phase {
		case running:
			cs.State.Running = &v1.ContainerStateRunning{StartedAt: mt(c.startedAt)}
			cs.Started = ptr.To(true)
			cs.Ready = c.sidecar || !c.init
		case terminated:
			cs.State.Terminated = c.term.DeepCopy()
			cs.Started = ptr.To(false)
			cs.Ready = c.init && !c.sidecar && c.term.ExitCode == 0
		default:
			reason, msg := c.waitReason, c.waitMessage
			if reason == "" {
				if c.init || w.prepared {
					reason = "PodInitializing"
				} else {
					reason = "ContainerCreating"
				}
			}
			cs.State.Waiting = &v1.ContainerStateWaiting{Reason: reason, Message: msg}
			cs.Started = ptr.To(false)
		}
		return cs
	}
	st.InitContainerStatuses = nil
	for _, c := range w.init {
		st.InitContainerStatuses = append(st.InitContainerStatuses, ctrStatus(c))
	}
	st.ContainerStatuses = nil
	for _, c := range w.main {
		st.ContainerStatuses = append(st.ContainerStatuses, ctrStatus(c))
	}

	// Phase.
	phase := v1.PodPending
	switch {
	case w.terminal != "":
		phase = w.terminal
	case w.initFailed:
		phase = v1.PodFailed
	case w.initDone:
		phase = v1.PodRunning
		allDone, allOK := true, true
		for _, c := range w.main {
			if c.phase != terminated {
				allDone = false
				break
			}
			if c.term.ExitCode != 0 {
				allOK = false
			}
		}
		if allDone && len(w.main) > 0 {
			switch pod.Spec.RestartPolicy {
			case v1.RestartPolicyNever:
				phase = v1.PodFailed
				if allOK {
					phase = v1.PodSucceeded
				}
			case v1.RestartPolicyOnFailure:
				if allOK {
					phase = v1.PodSucceeded
				}
			}
		}
	}
	if phase == v1.PodSucceeded || phase == v1.PodFailed {
		if w.terminal == "" {
			w.logf("action=pod-terminal phase=%s", phase)
		}
		w.terminal = phase
	}
	st.Phase = phase

	// Conditions.
	var notReady, notInit []string
	for _, c := range w.init {
		if !c.sidecar && !(c.phase == terminated && c.term.ExitCode == 0) {
			notInit = append(notInit, c.spec.Name)
		}
		if c.sidecar && c.phase != running {
			notInit = append(notInit, c.spec.Name)
			notReady = append(notReady, c.spec.Name)
		}
	}
	for _, c := range w.main {
		if c.phase != running || !w.initDone {
			notReady = append(notReady, c.spec.Name)
		}
	}
	now := metav1.Now()
	set := func(t v1.PodConditionType, ok bool, reason, msg string) {
		s := v1.ConditionFalse
		if ok {
			s = v1.ConditionTrue
			reason, msg = "", ""
		}
		for i := range st.Conditions {
			c := &st.Conditions[i]
			if c.Type == t {
				if c.Status != s {
					c.LastTransitionTime = mt(now.Time)
				}
				c.Status, c.Reason, c.Message = s, reason, msg
				c.ObservedGeneration = pod.Generation
				return
			}
		}
		st.Conditions = append(st.Conditions, v1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg,
			LastTransitionTime: mt(now.Time), ObservedGeneration: pod.Generation})
	}
	list := func(names []string) string { return "[" + strings.Join(names, " ") + "]" }
	terminalPhase := phase == v1.PodSucceeded || phase == v1.PodFailed
	set(v1.PodReadyToStartContainers, w.prepared && !terminalPhase, "", "")
	if len(notInit) == 0 && w.initDone {
		set(v1.PodInitialized, true, "", "")
	} else if !w.initDone || len(notInit) > 0 {
		set(v1.PodInitialized, false, "ContainersNotInitialized", "containers with incomplete status: "+list(notInit))
	}
	switch {
	case terminalPhase && phase == v1.PodSucceeded:
		set(v1.ContainersReady, false, "PodCompleted", "")
		set(v1.PodReady, false, "PodCompleted", "")
	case len(notReady) > 0:
		set(v1.ContainersReady, false, "ContainersNotReady", "containers with unready status: "+list(notReady))
		set(v1.PodReady, false, "ContainersNotReady", "containers with unready status: "+list(notReady))
	default:
		set(v1.ContainersReady, true, "", "")
		var gates []string
		for _, g := range pod.Spec.ReadinessGates {
			ok := false
			for _, c := range st.Conditions {
				if c.Type == g.ConditionType && c.Status == v1.ConditionTrue {
					ok = true
				}
			}
			if !ok {
				gates = append(gates, string(g.ConditionType))
			}
		}
		if len(gates) > 0 {
			set(v1.PodReady, false, "ReadinessGatesNotReady", "corresponding condition of pod readiness gate "+fmt.Sprintf("%q", gates)+" does not exist.")
		} else {
			set(v1.PodReady, true, "", "")
		}
	}
	// Stable order, as the kubelet keeps them.
	order := map[v1.PodConditionType]int{v1.PodReadyToStartContainers: 0, v1.PodInitialized: 1, v1.PodReady: 2, v1.ContainersReady: 3, v1.PodScheduled: 4}
	sort.SliceStable(st.Conditions, func(i, j int) bool {
		oi, ok := order[st.Conditions[i].Type]
		if !ok {
			oi = 10
		}
		oj, ok := order[st.Conditions[j].Type]
		if !ok {
			oj = 10
		}
		return oi < oj
	})
	return st
}

// postStatus writes the status when it differs from what the API has.
func (w *podWorker) postStatus(pod *v1.Pod) {
	want := w.status(pod)
	if equality.Semantic.DeepEqual(&pod.Status, want) {
		w.lastPosted = want
		return
	}
	// The informer may not have caught up with our last write yet.
	if w.lastPosted != nil && equality.Semantic.DeepEqual(w.lastPosted, want) && time.Since(w.lastPostAt) < 5*time.Second {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cur := pod
	for attempt := 0; attempt < 5; attempt++ {
		upd := cur.DeepCopy()
		upd.Status = *want
		_, err := w.n.sim.client.CoreV1().Pods(w.namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if err == nil {
			if pod.Status.Phase != want.Phase || podReady(&pod.Status) != podReady(want) {
				w.logf("action=update-status phase=%s ready=%v ip=%s", want.Phase, podReady(want), want.PodIP)
			}
			w.lastPosted = want
			w.lastPostAt = time.Now()
			return
		}
		if apierrors.IsNotFound(err) {
			return
		}
		if !apierrors.IsConflict(err) {
			w.logf("action=update-status error=%q", err)
			return
		}
		cur, err = w.n.sim.client.CoreV1().Pods(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil || cur.UID != w.uid {
			return
		}
		want = w.status(cur)
	}
}

func podReady(st *v1.PodStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}
