package nodesim

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The kubelet API subset that `kubectl logs` needs: the API server calls
// https://<node InternalIP>:<kubeletEndpoint.Port>/containerLogs/<ns>/<pod>/<container>.
// All simulated nodes share 127.0.0.1, so one server on one port serves
// every node (a pod name identifies the node).

func (s *Sim) serveKubeletAPI(ctx context.Context, addr, certFile, keyFile, clientCA string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("kubelet API serving cert: %w", err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return fmt.Errorf("kubelet API client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("kubelet API client CA %s: no certificates", clientCA)
		}
		tlsCfg.ClientCAs = pool
		tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/containerLogs/", s.handleContainerLogs)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		logf("kubelet-api: %s %s: not supported by nodesim", r.Method, r.URL.Path)
		http.Error(w, "nodesim: only /containerLogs is supported (no exec, attach, port-forward)", http.StatusNotImplemented)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	logf("kubelet-api: serving /containerLogs on https://%s", addr)
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("kubelet-api: %v", err)
		}
	}()
	return nil
}

// findPod locates a pod on any simulated node.
func (s *Sim) findPod(ns, name string) (*simNode, *v1.Pod) {
	for _, n := range s.nodes {
		n.mu.Lock()
		lister := n.lister
		n.mu.Unlock()
		if lister == nil {
			continue
		}
		if p, err := lister.Pods(ns).Get(name); err == nil {
			return n, p
		}
	}
	return nil, nil
}

func (s *Sim) handleContainerLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/"), "/")
	if len(parts) != 3 {
		http.Error(w, "want /containerLogs/<namespace>/<pod>/<container>", http.StatusBadRequest)
		return
	}
	ns, podName, container := parts[0], parts[1], parts[2]
	n, pod := s.findPod(ns, podName)
	if pod == nil {
		http.Error(w, fmt.Sprintf("pod %s/%s not found on the simulated nodes", ns, podName), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	dir := filepath.Join(n.dir, "logs", fmt.Sprintf("%s_%s_%s", ns, podName, pod.UID), container)
	runs := logRuns(dir)
	if len(runs) == 0 {
		// Never run as a process: simulated containers have no output.
		if q.Get("previous") == "true" {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, podName), http.StatusBadRequest)
		}
		return
	}
	idx := len(runs) - 1
	if q.Get("previous") == "true" {
		if idx == 0 {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, podName), http.StatusBadRequest)
			return
		}
		idx--
	}
	path := filepath.Join(dir, strconv.Itoa(runs[idx])+".log")
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()

	limit := int64(-1)
	if v, err := strconv.ParseInt(q.Get("limitBytes"), 10, 64); err == nil && v > 0 {
		limit = v
	}
	out := io.Writer(w)
	written := int64(0)
	write := func(b []byte) bool {
		if limit >= 0 && written+int64(len(b)) > limit {
			b = b[:limit-written]
		}
		k, err := out.Write(b)
		written += int64(k)
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		return err == nil && (limit < 0 || written < limit)
	}
	w.Header().Set("Content-Type", "text/plain")

	if v, err := strconv.Atoi(q.Get("tailLines")); err == nil && v >= 0 {
		lines := tail(f, v)
		for _, l := range lines {
			if !write(l) {
				return
			}
		}
	} else {
		buf := make([]byte, 32<<10)
		for {
			k, err := f.Read(buf)
			if k > 0 && !write(buf[:k]) {
				return
			}
			if err != nil {
				break
			}
		}
	}
	if q.Get("follow") != "true" || idx != len(runs)-1 {
		return
	}
	// Follow until the client goes away or the container run ends (a newer
	// run's file appears, the pod is gone, or no process writes any more).
	buf := make([]byte, 32<<10)
	for {
		k, err := f.Read(buf)
		if k > 0 {
			if !write(buf[:k]) {
				return
			}
			continue
		}
		if err != nil && err != io.EOF {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
		if r := logRuns(dir); len(r) == 0 || r[len(r)-1] != runs[idx] {
			return
		}
		if !n.containerRunning(pod.UID, container) {
			// Drain what was written last, then stop.
			_, _ = io.Copy(out, f)
			return
		}
	}
}

func logRuns(dir string) []int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var runs []int
	for _, e := range entries {
		if v, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".log")); err == nil && strings.HasSuffix(e.Name(), ".log") {
			runs = append(runs, v)
		}
	}
	sort.Ints(runs)
	return runs
}

// tail returns the last n lines of r (each with its newline).
func tail(r io.Reader, n int) [][]byte {
	if n == 0 {
		return nil
	}
	var ring [][]byte
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			ring = append(ring, line)
			if len(ring) > n {
				ring = ring[1:]
			}
		}
		if err != nil {
			break
		}
	}
	return ring
}

func (n *simNode) containerRunning(uid types.UID, container string) bool {
	n.mu.Lock()
	w := n.workers[uid]
	n.mu.Unlock()
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range append(append([]*ctr{}, w.init...), w.main...) {
		if c.spec.Name == container {
			return c.proc != nil
		}
	}
	return false
}
