package nodesim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
	"k8s.io/utils/ptr"
)

// configError is a container configuration problem (missing ConfigMap
// key, …): the kubelet reports CreateContainerConfigError and retries.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// process is one run of a container as a host process.
type process struct {
	cmd      *exec.Cmd
	logPath  string
	started  time.Time
	finished time.Time
	exitCode int32
	signaled int32
	exited   chan struct{}
}

func (p *process) signal(sig syscall.Signal) {
	if p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	// The process leads its own process group: signal the group.
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

type mount struct{ path, host string }

// rewritePath maps a container path under a volumeMount to the host
// directory of that volume.
func rewritePath(s string, mounts []mount) string {
	for _, m := range mounts {
		if s == m.path || strings.HasPrefix(s, m.path+"/") {
			return m.host + s[len(m.path):]
		}
	}
	return s
}

// rewriteArg rewrites "/mount/path/…" and "--flag=/mount/path/…".
func rewriteArg(s string, mounts []mount) string {
	if r := rewritePath(s, mounts); r != s {
		return r
	}
	if strings.HasPrefix(s, "-") {
		if i := strings.Index(s, "="); i > 0 {
			return s[:i+1] + rewritePath(s[i+1:], mounts)
		}
	}
	return s
}

func (w *podWorker) startProcess(pod *v1.Pod, c *ctr, onExit func(*process)) (*process, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	spec := c.spec

	env, err := w.containerEnv(ctx, pod, &spec)
	if err != nil {
		return nil, err
	}
	envMap := map[string]string{}
	for _, kv := range env {
		envMap[kv.name] = kv.value
	}
	mapping := expansion.MappingFuncFor(envMap)

	// Mounts, longest container path first.
	var mounts []mount
	var mountDesc []string
	for _, vm := range spec.VolumeMounts {
		host, ok := w.volumes[vm.Name]
		if !ok {
			return nil, &configError{fmt.Sprintf("volumeMount %q: no volume of that name", vm.Name)}
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expansion.Expand(vm.SubPathExpr, mapping)
		}
		if sub != "" {
			host = filepath.Join(host, filepath.Clean("/"+sub))
			if _, err := os.Stat(host); os.IsNotExist(err) {
				_ = os.MkdirAll(host, 0o755)
			}
		}
		mp := filepath.Clean(vm.MountPath)
		if mp == "/" {
			continue
		}
		mounts = append(mounts, mount{path: mp, host: host})
		mountDesc = append(mountDesc, mp+"="+host)
	}
	sort.SliceStable(mounts, func(i, j int) bool { return len(mounts[i].path) > len(mounts[j].path) })

	var argv []string
	if len(spec.Command) > 0 {
		argv = append(argv, spec.Command[1:]...)
	}
	argv = append(argv, spec.Args...)
	for i, a := range argv {
		argv[i] = rewriteArg(expansion.Expand(a, mapping), mounts)
	}

	podDir := w.podDir()
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	cfg := w.n.sim.cfg
	var envv []string
	envv = append(envv,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME="+podDir,
		"HOSTNAME="+hostname,
		"KUBERNETES_SERVICE_HOST="+cfg.APIHost,
		"KUBERNETES_SERVICE_PORT="+cfg.APIPort,
		"KUBERNETES_SERVICE_PORT_HTTPS="+cfg.APIPort,
		"KUBERNETES_PORT=tcp://"+cfg.APIHost+":"+cfg.APIPort,
	)
	for _, kv := range env {
		envv = append(envv, kv.name+"="+rewritePath(kv.value, mounts))
	}
	saDir := ""
	for _, m := range mounts {
		if m.path == "/var/run/secrets/kubernetes.io/serviceaccount" {
			saDir = m.host
		}
	}
	envv = append(envv,
		"NODESIM_NODE="+w.n.name,
		"NODESIM_ROOT="+w.n.dir,
		"NODESIM_POD_DIR="+podDir,
		"NODESIM_POD_NAME="+pod.Name,
		"NODESIM_POD_NAMESPACE="+pod.Namespace,
		"NODESIM_POD_UID="+string(pod.UID),
		"NODESIM_POD_IP="+w.podIP,
		"NODESIM_CONTAINER="+spec.Name,
		"NODESIM_MOUNTS="+strings.Join(mountDesc, ";"),
		"NODESIM_SERVICEACCOUNT_DIR="+saDir,
	)

	logDir := filepath.Join(w.n.dir, "logs", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID), spec.Name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%d.log", c.restarts))
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	cmd := exec.Command(c.binary, argv...)
	if len(spec.Command) > 0 {
		cmd.Args[0] = spec.Command[0]
	}
	cmd.Env = envv
	cmd.Dir = podDir
	if spec.WorkingDir != "" {
		if wd := rewritePath(filepath.Clean(spec.WorkingDir), mounts); wd != filepath.Clean(spec.WorkingDir) {
			cmd.Dir = wd
		} else if fi, err := os.Stat(wd); err == nil && fi.IsDir() {
			cmd.Dir = wd
		}
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, logPath: logPath, started: time.Now(), exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.finished = time.Now()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.signaled = int32(ws.Signal())
				p.exitCode = 128 + int32(ws.Signal())
			} else {
				p.exitCode = int32(ee.ExitCode())
			}
		} else if err != nil {
			p.exitCode = 128
		}
		// Reap anything left in the process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		onExit(p)
		close(p.exited)
	}()
	return p, nil
}

type envVar struct{ name, value string }

// containerEnv resolves envFrom and env like the kubelet, including
// $(VAR) expansion against earlier variables.
func (w *podWorker) containerEnv(ctx context.Context, pod *v1.Pod, c *v1.Container) ([]envVar, error) {
	cli := w.n.sim.client.CoreV1()
	var out []envVar
	vals := map[string]string{}
	add := func(k, v string) {
		vals[k] = v
		for i := range out {
			if out[i].name == k {
				out[i].value = v
				return
			}
		}
		out = append(out, envVar{k, v})
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := cli.ConfigMaps(pod.Namespace).Get(ctx, ef.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && ptr.Deref(ef.ConfigMapRef.Optional, false) {
					continue
				}
				return nil, &configError{fmt.Sprintf("configmap %q not found", ef.ConfigMapRef.Name)}
			}
			keys := sortedKeys(cm.Data)
			for _, k := range keys {
				add(ef.Prefix+k, cm.Data[k])
			}
		case ef.SecretRef != nil:
			sec, err := cli.Secrets(pod.Namespace).Get(ctx, ef.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && ptr.Deref(ef.SecretRef.Optional, false) {
					continue
				}
				return nil, &configError{fmt.Sprintf("secret %q not found", ef.SecretRef.Name)}
			}
			keys := make([]string, 0, len(sec.Data))
			for k := range sec.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				add(ef.Prefix+k, string(sec.Data[k]))
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			add(e.Name, expansion.Expand(e.Value, expansion.MappingFuncFor(vals)))
			continue
		}
		vf := e.ValueFrom
		switch {
		case vf.FieldRef != nil || vf.ResourceFieldRef != nil:
			v, err := w.downwardValue(pod, c, vf.FieldRef, vf.ResourceFieldRef)
			if err != nil {
				return nil, &configError{err.Error()}
			}
			add(e.Name, v)
		case vf.ConfigMapKeyRef != nil:
			r := vf.ConfigMapKeyRef
			cm, err := cli.ConfigMaps(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
			if err != nil {
				if ptr.Deref(r.Optional, false) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, &configError{fmt.Sprintf("configmap %q not found", r.Name)}
			}
			v, ok := cm.Data[r.Key]
			if !ok {
				if ptr.Deref(r.Optional, false) {
					continue
				}
				return nil, &configError{fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", r.Key, pod.Namespace, r.Name)}
			}
			add(e.Name, v)
		case vf.SecretKeyRef != nil:
			r := vf.SecretKeyRef
			sec, err := cli.Secrets(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
			if err != nil {
				if ptr.Deref(r.Optional, false) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, &configError{fmt.Sprintf("secret %q not found", r.Name)}
			}
			v, ok := sec.Data[r.Key]
			if !ok {
				if ptr.Deref(r.Optional, false) {
					continue
				}
				return nil, &configError{fmt.Sprintf("couldn't find key %s in Secret %s/%s", r.Key, pod.Namespace, r.Name)}
			}
			add(e.Name, string(v))
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
