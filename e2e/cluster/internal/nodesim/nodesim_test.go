package nodesim

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestImageName(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                             "busybox",
		"busybox:1.36":                        "busybox",
		"registry:5000/x/diffkeeper-agent:v1": "diffkeeper-agent",
		"ghcr.io/a/b/diffkeeper-operator@sha256:0": "diffkeeper-operator",
	} {
		if got := imageName(in); got != want {
			t.Errorf("imageName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRewriteArg(t *testing.T) {
	mounts := []mount{
		{path: "/data/sub", host: "/h/sub"},
		{path: "/data", host: "/h/data"},
	}
	for in, want := range map[string]string{
		"/data":             "/h/data",
		"/data/x/y":         "/h/data/x/y",
		"/data/sub/z":       "/h/sub/z",
		"/database":         "/database",
		"--dir=/data/a":     "--dir=/h/data/a",
		"-d=/data":          "-d=/h/data",
		"--name=x":          "--name=x",
		"echo /data/ > /x":  "echo /data/ > /x",
		"relative/data/foo": "relative/data/foo",
	} {
		if got := rewriteArg(in, mounts); got != want {
			t.Errorf("rewriteArg(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMapHostPath(t *testing.T) {
	s := &Sim{cfg: Config{Root: "/r", HostPathRules: []hostPathRule{
		{Prefix: "/var/lib/kubelet", Template: "{root}/{node}"},
		{Prefix: "/var/lib/diffkeeper", Template: "{root}/{node}/host/var/lib/diffkeeper"},
	}}}
	for in, want := range map[string]string{
		"/var/lib/kubelet/pods":    "/r/n1/pods",
		"/var/lib/kubelet":         "/r/n1",
		"/var/lib/kubeletx":        "/var/lib/kubeletx",
		"/var/lib/diffkeeper/data": "/r/n1/host/var/lib/diffkeeper/data",
		"/etc/hosts":               "/etc/hosts",
	} {
		if got, _ := s.mapHostPath(in, "n1"); got != want {
			t.Errorf("mapHostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeyFilesAndWrite(t *testing.T) {
	mode := int32(0o600)
	files, err := keyFiles(map[string]string{"a": "1", "b": "2"}, nil,
		[]v1.KeyToPath{{Key: "a", Path: "dir/a.txt", Mode: &mode}}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || string(files["dir/a.txt"].data) != "1" || files["dir/a.txt"].mode != 0o600 {
		t.Fatalf("unexpected files %+v", files)
	}
	if _, err := keyFiles(map[string]string{}, nil, []v1.KeyToPath{{Key: "missing", Path: "x"}}, nil, false); err == nil {
		t.Fatal("missing key: want error")
	}
	dir := t.TempDir()
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "dir/a.txt"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v %v", fi, err)
	}
	// Paths cannot escape the volume directory.
	if err := writeFiles(dir, map[string]fileData{"../../escape": {data: []byte("x"), mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err != nil {
		t.Fatalf("escape path not confined to the volume dir: %v", err)
	}
}

func TestTail(t *testing.T) {
	got := tail(strings.NewReader("1\n2\n3\n4"), 2)
	want := [][]byte{[]byte("3\n"), []byte("4")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tail = %q, want %q", got, want)
	}
}
