package nodesim

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Volume plugin directory names, as the kubelet lays them out under
// <kubelet-root>/pods/<uid>/volumes/.
const (
	pluginEmptyDir   = "kubernetes.io~empty-dir"
	pluginConfigMap  = "kubernetes.io~configmap"
	pluginSecret     = "kubernetes.io~secret"
	pluginProjected  = "kubernetes.io~projected"
	pluginDownward   = "kubernetes.io~downward-api"
	pluginCSI        = "kubernetes.io~csi"
	pluginLocalDir   = "kubernetes.io~local-volume"
	defaultFileMode  = 0o644
	emptyDirFileMode = 0o777
)

// mapHostPath applies the --hostpath-map rules.
func (s *Sim) mapHostPath(p, node string) (string, bool) {
	p = filepath.Clean(p)
	for _, r := range s.cfg.HostPathRules {
		if p == r.Prefix || strings.HasPrefix(p, r.Prefix+"/") {
			base := strings.NewReplacer("{root}", s.cfg.Root, "{node}", node).Replace(r.Template)
			return filepath.Join(base, strings.TrimPrefix(p, r.Prefix)), true
		}
	}
	return p, false
}

// prepareVolumes creates or fills every volume of the pod and returns the
// host path of each, by volume name.
func (w *podWorker) prepareVolumes(pod *v1.Pod) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	podDir := w.podDir()
	for _, d := range []string{filepath.Join(podDir, "volumes"), filepath.Join(podDir, "plugins"), filepath.Join(podDir, "containers")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, err
		}
	}
	vols := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		p, err := w.prepareVolume(ctx, pod, v)
		if err != nil {
			return nil, fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", v.Name, err)
		}
		vols[v.Name] = p
	}
	return vols, nil
}

func (w *podWorker) prepareVolume(ctx context.Context, pod *v1.Pod, v v1.Volume) (string, error) {
	podDir := w.podDir()
	pluginDir := func(plugin string) string { return filepath.Join(podDir, "volumes", plugin, v.Name) }
	cli := w.n.sim.client.CoreV1()
	switch {
	case v.EmptyDir != nil:
		dir := pluginDir(pluginEmptyDir)
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			if err := os.MkdirAll(dir, emptyDirFileMode); err != nil {
				return "", err
			}
			_ = os.Chmod(dir, emptyDirFileMode)
			w.logf("action=create-volume type=emptyDir volume=%s dir=%s", v.Name, dir)
		}
		return dir, nil

	case v.HostPath != nil:
		p, mapped := w.n.sim.mapHostPath(v.HostPath.Path, w.n.name)
		typ := v1.HostPathUnset
		if v.HostPath.Type != nil {
			typ = *v.HostPath.Type
		}
		if err := checkHostPath(p, typ, mapped); err != nil {
			return "", err
		}
		if mapped {
			w.logf("action=host-path volume=%s path=%s host=%s", v.Name, v.HostPath.Path, p)
		}
		return p, nil

	case v.ConfigMap != nil:
		dir := pluginDir(pluginConfigMap)
		cm, err := cli.ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && ptr.Deref(v.ConfigMap.Optional, false) {
				return dir, os.MkdirAll(dir, 0o755)
			}
			return "", fmt.Errorf("configmap %q: %w", v.ConfigMap.Name, err)
		}
		files, err := keyFiles(cm.Data, cm.BinaryData, v.ConfigMap.Items, v.ConfigMap.DefaultMode, ptr.Deref(v.ConfigMap.Optional, false))
		if err != nil {
			return "", err
		}
		return dir, writeFiles(dir, files)

	case v.Secret != nil:
		dir := pluginDir(pluginSecret)
		sec, err := cli.Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && ptr.Deref(v.Secret.Optional, false) {
				return dir, os.MkdirAll(dir, 0o755)
			}
			return "", fmt.Errorf("secret %q: %w", v.Secret.SecretName, err)
		}
		files, err := keyFiles(nil, sec.Data, v.Secret.Items, v.Secret.DefaultMode, ptr.Deref(v.Secret.Optional, false))
		if err != nil {
			return "", err
		}
		return dir, writeFiles(dir, files)

	case v.DownwardAPI != nil:
		dir := pluginDir(pluginDownward)
		files := map[string]fileData{}
		for _, it := range v.DownwardAPI.Items {
			val, err := w.downwardValue(pod, nil, it.FieldRef, it.ResourceFieldRef)
			if err != nil {
				return "", err
			}
			files[it.Path] = fileData{data: []byte(val), mode: modeOr(it.Mode, v.DownwardAPI.DefaultMode)}
		}
		return dir, writeFiles(dir, files)

	case v.Projected != nil:
		dir := pluginDir(pluginProjected)
		files := map[string]fileData{}
		for _, src := range v.Projected.Sources {
			switch {
			case src.ServiceAccountToken != nil:
				tok, err := w.requestToken(ctx, pod, src.ServiceAccountToken)
				if err != nil {
					return "", err
				}
				files[src.ServiceAccountToken.Path] = fileData{data: []byte(tok), mode: modeOr(nil, v.Projected.DefaultMode)}
			case src.ConfigMap != nil:
				cm, err := cli.ConfigMaps(pod.Namespace).Get(ctx, src.ConfigMap.Name, metav1.GetOptions{})
				if err != nil {
					if apierrors.IsNotFound(err) && ptr.Deref(src.ConfigMap.Optional, false) {
						continue
					}
					return "", fmt.Errorf("configmap %q: %w", src.ConfigMap.Name, err)
				}
				f, err := keyFiles(cm.Data, cm.BinaryData, src.ConfigMap.Items, v.Projected.DefaultMode, ptr.Deref(src.ConfigMap.Optional, false))
				if err != nil {
					return "", err
				}
				for k, d := range f {
					files[k] = d
				}
			case src.Secret != nil:
				sec, err := cli.Secrets(pod.Namespace).Get(ctx, src.Secret.Name, metav1.GetOptions{})
				if err != nil {
					if apierrors.IsNotFound(err) && ptr.Deref(src.Secret.Optional, false) {
						continue
					}
					return "", fmt.Errorf("secret %q: %w", src.Secret.Name, err)
				}
				f, err := keyFiles(nil, sec.Data, src.Secret.Items, v.Projected.DefaultMode, ptr.Deref(src.Secret.Optional, false))
				if err != nil {
					return "", err
				}
				for k, d := range f {
					files[k] = d
				}
			case src.DownwardAPI != nil:
				for _, it := range src.DownwardAPI.Items {
					val, err := w.downwardValue(pod, nil, it.FieldRef, it.ResourceFieldRef)
					if err != nil {
						return "", err
					}
					files[it.Path] = fileData{data: []byte(val), mode: modeOr(it.Mode, v.Projected.DefaultMode)}
				}
			}
		}
		return dir, writeFiles(dir, files)

	case v.PersistentVolumeClaim != nil || v.Ephemeral != nil:
		claim := ""
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		} else {
			claim = pod.Name + "-" + v.Name
		}
		pvc, err := cli.PersistentVolumeClaims(pod.Namespace).Get(ctx, claim, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("persistentvolumeclaim %q: %w", claim, err)
		}
		if pvc.Spec.VolumeName == "" {
			return "", fmt.Errorf("persistentvolumeclaim %q is not bound", claim)
		}
		pv, err := cli.PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("persistentvolume %q: %w", pvc.Spec.VolumeName, err)
		}
		switch {
		case pv.Spec.HostPath != nil:
			p, mapped := w.n.sim.mapHostPath(pv.Spec.HostPath.Path, w.n.name)
			typ := v1.HostPathUnset
			if pv.Spec.HostPath.Type != nil {
				typ = *pv.Spec.HostPath.Type
			}
			return p, checkHostPath(p, typ, mapped || typ == v1.HostPathUnset)
		case pv.Spec.Local != nil:
			p, _ := w.n.sim.mapHostPath(pv.Spec.Local.Path, w.n.name)
			return p, os.MkdirAll(p, 0o755)
		default:
			dir := filepath.Join(podDir, "volumes", pluginCSI, pv.Name, "mount")
			return dir, os.MkdirAll(dir, 0o750)
		}

	default:
		// Unsupported volume type: give it an empty directory.
		dir := pluginDir("nodesim~unsupported")
		return dir, os.MkdirAll(dir, 0o755)
	}
}

func checkHostPath(p string, typ v1.HostPathType, createIfMissing bool) error {
	fi, err := os.Stat(p)
	switch typ {
	case v1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return os.MkdirAll(p, 0o755)
		}
	case v1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	case v1.HostPathDirectory:
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", p)
		}
	case v1.HostPathFile:
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", p)
		}
	case v1.HostPathSocket, v1.HostPathCharDev, v1.HostPathBlockDev:
		if err != nil {
			return fmt.Errorf("hostPath type check failed: %s does not exist", p)
		}
	default:
		// Unset: no check. Mapped paths are ours, so create them (as a
		// bind mount of a missing path does with Docker).
		if os.IsNotExist(err) && createIfMissing {
			return os.MkdirAll(p, 0o755)
		}
	}
	return nil
}

type fileData struct {
	data []byte
	mode os.FileMode
}

func modeOr(m, def *int32) os.FileMode {
	if m != nil {
		return os.FileMode(*m)
	}
	if def != nil {
		return os.FileMode(*def)
	}
	return defaultFileMode
}

func keyFiles(str map[string]string, bin map[string][]byte, items []v1.KeyToPath, defMode *int32, optional bool) (map[string]fileData, error) {
	all := map[string][]byte{}
	for k, v := range str {
		all[k] = []byte(v)
	}
	for k, v := range bin {
		all[k] = v
	}
	out := map[string]fileData{}
	if len(items) == 0 {
		for k, v := range all {
			out[k] = fileData{data: v, mode: modeOr(nil, defMode)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := all[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("key %q not found", it.Key)
		}
		out[it.Path] = fileData{data: v, mode: modeOr(it.Mode, defMode)}
	}
	return out, nil
}

func writeFiles(dir string, files map[string]fileData) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := filepath.Join(dir, filepath.Clean("/"+k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		tmp := p + ".nodesim-tmp"
		if err := os.WriteFile(tmp, files[k].data, files[k].mode.Perm()); err != nil {
			return err
		}
		_ = os.Chmod(tmp, files[k].mode.Perm())
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	return nil
}

func (w *podWorker) requestToken(ctx context.Context, pod *v1.Pod, src *v1.ServiceAccountTokenProjection) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr := &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: src.ExpirationSeconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}
	if src.Audience != "" {
		tr.Spec.Audiences = []string{src.Audience}
	}
	res, err := w.n.sim.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %q: %w", sa, err)
	}
	return res.Status.Token, nil
}

// downwardValue resolves a fieldRef or resourceFieldRef.
func (w *podWorker) downwardValue(pod *v1.Pod, c *v1.Container, f *v1.ObjectFieldSelector, r *v1.ResourceFieldSelector) (string, error) {
	if f != nil {
		path := f.FieldPath
		switch {
		case path == "metadata.name":
			return pod.Name, nil
		case path == "metadata.namespace":
			return pod.Namespace, nil
		case path == "metadata.uid":
			return string(pod.UID), nil
		case path == "metadata.labels":
			return formatMap(pod.Labels), nil
		case path == "metadata.annotations":
			return formatMap(pod.Annotations), nil
		case strings.HasPrefix(path, "metadata.labels['") && strings.HasSuffix(path, "']"):
			return pod.Labels[path[len("metadata.labels['"):len(path)-2]], nil
		case strings.HasPrefix(path, "metadata.annotations['") && strings.HasSuffix(path, "']"):
			return pod.Annotations[path[len("metadata.annotations['"):len(path)-2]], nil
		case path == "spec.nodeName":
			return w.n.name, nil
		case path == "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, nil
		case path == "status.hostIP", path == "status.hostIPs":
			return hostIP, nil
		case path == "status.podIP", path == "status.podIPs":
			return w.podIP, nil
		}
		return "", fmt.Errorf("unsupported fieldRef %q", path)
	}
	if r != nil {
		var ctrSpec *v1.Container
		if c != nil && (r.ContainerName == "" || r.ContainerName == c.Name) {
			ctrSpec = c
		} else {
			for i := range pod.Spec.Containers {
				if pod.Spec.Containers[i].Name == r.ContainerName {
					ctrSpec = &pod.Spec.Containers[i]
				}
			}
		}
		var q resource.Quantity
		kind, name, _ := strings.Cut(r.Resource, ".")
		rn := v1.ResourceName(name)
		found := false
		if ctrSpec != nil {
			list := ctrSpec.Resources.Limits
			if kind == "requests" {
				list = ctrSpec.Resources.Requests
			}
			q, found = list[rn]
		}
		if !found {
			if kind == "requests" {
				q = resource.MustParse("0")
			} else {
				q = w.n.sim.cfg.Capacity[rn]
			}
		}
		div := r.Divisor
		if div.IsZero() {
			div = resource.MustParse("1")
		}
		v := math.Ceil(float64(q.MilliValue()) / float64(div.MilliValue()))
		return fmt.Sprintf("%d", int64(v)), nil
	}
	return "", fmt.Errorf("empty downward API selector")
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return strings.TrimSuffix(b.String(), "\n")
}
