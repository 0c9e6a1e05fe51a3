package derivative

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(body, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteCpioReadByCpio(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skipf("needs cpio: %v", err)
	}
	entries := withParents([]cpioEntry{
		{name: "init", mode: cpioReg | 0o755, data: []byte("#!/bin/sh\necho hi\n")},
		{name: "bin/sh", mode: cpioLink | 0o777, link: "busybox"},
		{name: "lib/modules/x/odd.ko", mode: cpioReg | 0o644, data: []byte("12345")},
		{name: "etc/empty", mode: cpioReg | 0o644},
	})
	var buf bytes.Buffer
	if err := writeCpio(&buf, entries, 1700000000); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--quiet", "--no-absolute-filenames")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(buf.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v\n%s", err, out)
	}
	tests := []struct {
		name, path, body string
	}{
		{name: "script", path: "init", body: "#!/bin/sh\necho hi\n"},
		{name: "odd length", path: "lib/modules/x/odd.ko", body: "12345"},
		{name: "empty", path: "etc/empty", body: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(dir, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.body, string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.path, diff)
			}
		})
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q, %v; want busybox", l, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "init"))
	if err != nil || fi.Mode().Perm() != 0o755 || fi.ModTime().Unix() != 1700000000 {
		t.Errorf("init mode/mtime = %v, want 0755 at 1700000000 (%v)", fi, err)
	}
	var again bytes.Buffer
	if err := writeCpio(&again, entries, 1700000000); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("second writeCpio differs (err %v)", err)
	}
}

func TestModuleOrder(t *testing.T) {
	tree := t.TempDir()
	dir := filepath.Join(tree, "usr/lib/modules/6.1.0-test")
	writeTree(t, tree, map[string]string{
		"usr/lib/modules/6.1.0-test/modules.dep": "kernel/a/virtio_blk.ko: kernel/v/virtio_ring.ko kernel/v/virtio.ko\n" +
			"kernel/v/virtio.ko:\nkernel/v/virtio_ring.ko: kernel/v/virtio.ko\n" +
			"kernel/fs/ext4.ko: kernel/lib/crc16.ko kernel/fs/jbd2.ko\nkernel/lib/crc16.ko:\nkernel/fs/jbd2.ko:\n" +
			"kernel/n/nvme-core.ko:\n",
		"usr/lib/modules/6.1.0-test/modules.builtin": "kernel/fs/mbcache.ko\n",
	})
	_ = dir
	tests := []struct {
		name    string
		wanted  []string
		want    []string
		wantErr bool
	}{
		{name: "deps first", wanted: []string{"virtio_blk"},
			want: []string{"kernel/v/virtio.ko", "kernel/v/virtio_ring.ko", "kernel/a/virtio_blk.ko"}},
		{name: "no duplicates", wanted: []string{"virtio_ring", "virtio", "virtio_blk"},
			want: []string{"kernel/v/virtio.ko", "kernel/v/virtio_ring.ko", "kernel/a/virtio_blk.ko"}},
		{name: "builtin skipped, dash and underscore equal", wanted: []string{"mbcache", "ext4", "nvme_core"},
			want: []string{"kernel/lib/crc16.ko", "kernel/fs/jbd2.ko", "kernel/fs/ext4.ko", "kernel/n/nvme-core.ko"}},
		{name: "missing reported", wanted: []string{"nope", "crc16"},
			want: []string{"kernel/lib/crc16.ko"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := moduleOrder(tree, "6.1.0-test", tc.wanted)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, errModuleMissing)) {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveIn(t *testing.T) {
	tree := t.TempDir()
	writeTree(t, tree, map[string]string{
		"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": "ld",
		"usr/lib64/ld-linux-x86-64.so.2":                "->/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"lib":                                           "->usr/lib",
		"lib64":                                         "->usr/lib64",
		"usr/lib/x86_64-linux-gnu/libc.so.6":            "->libc.so.6.real",
		"usr/lib/x86_64-linux-gnu/libc.so.6.real":       "c",
		"loop": "->loop",
	})
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "absolute link inside the tree", in: "/lib64/ld-linux-x86-64.so.2", want: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"},
		{name: "relative link", in: "/lib/x86_64-linux-gnu/libc.so.6", want: "/usr/lib/x86_64-linux-gnu/libc.so.6.real"},
		{name: "missing", in: "/lib/nope", wantErr: true},
		{name: "loop", in: "/loop", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveIn(tree, tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("resolveIn(%s) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// listLayer reads a layer with GNU tar (independent of archive/tar).
func listLayer(t *testing.T, file string) string {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skipf("needs tar: %v", err)
	}
	out, err := exec.Command("tar", "--numeric-owner", "-tvzf", file).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tvzf %s: %v\n%s", file, err, out)
	}
	return string(out)
}

func TestWriteLayerDeterministicWithWhiteouts(t *testing.T) {
	tree := t.TempDir()
	writeTree(t, tree, map[string]string{"etc/os-release": "VERSION=A\n", "etc/link": "->os-release", "tmp/junk": "x"})
	spec := layerSpec{root: tree, epoch: time.Unix(1700000000, 0).UTC(),
		whiteouts: []string{"etc/motd"}, skip: func(rel string) bool { return strings.HasPrefix(rel, "tmp/") }}
	var sums [2][32]byte
	for i := range sums {
		out := filepath.Join(t.TempDir(), "l.tar.gz")
		if err := writeLayer(context.Background(), spec, out); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(data)
		if i == 0 {
			list := listLayer(t, out)
			for _, want := range []string{"etc/os-release", "etc/link -> os-release", "etc/.wh.motd", "tmp/\n", "2023-11-14 22:13"} {
				if !strings.Contains(list, want) {
					t.Errorf("layer listing lacks %q:\n%s", want, list)
				}
			}
			if strings.Contains(list, "junk") {
				t.Errorf("skipped tmp/junk is in the layer:\n%s", list)
			}
		}
		// Touch the tree between runs: mtimes must not matter.
		_ = os.Chtimes(filepath.Join(tree, "etc/os-release"), time.Now(), time.Now())
	}
	if sums[0] != sums[1] {
		t.Errorf("two writes of the same tree differ")
	}
}

func TestMirrorIn(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{name: "deb822", body: "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n", want: "http://deb.debian.org/debian"},
		{name: "one line with options", body: "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n", want: "http://mirror.example/debian"},
		{name: "security only", body: "URIs: http://deb.debian.org/debian-security\n", want: ""},
		{name: "third party", body: "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "sources")
			if err := os.WriteFile(f, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := mirrorIn(f); got != tc.want {
				t.Errorf("mirrorIn = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVariantValidate(t *testing.T) {
	tests := []struct {
		name    string
		v       Variant
		wantErr bool
	}{
		{name: "v2 A", v: Variant{2, "A"}},
		{name: "v1 B", v: Variant{1, "B"}},
		{name: "v3", v: Variant{3, "A"}, wantErr: true},
		{name: "C", v: Variant{2, "C"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate()
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrUnknownVariant)) {
				t.Errorf("Validate(%v) = %v, wantErr %v", tc.v, err, tc.wantErr)
			}
		})
	}
}

func TestIsLoopbackRef(t *testing.T) {
	tests := []struct {
		name, ref string
		want      bool
	}{
		{name: "ipv4 with port", ref: "127.0.0.1:5000/x/y:tag", want: true},
		{name: "localhost", ref: "localhost:5000/x:tag", want: true},
		{name: "ipv6", ref: "[::1]:5000/x:tag", want: true},
		{name: "remote", ref: "registry.example/x:tag", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isLoopbackRef(tc.ref); got != tc.want {
				t.Errorf("isLoopbackRef(%q) = %v, want %v", tc.ref, got, tc.want)
			}
		})
	}
}

// TestPushSmallLayout assembles a layout from three tiny layers the way
// Build does and pushes it to an in-process registry over plain HTTP.
func TestPushSmallLayout(t *testing.T) {
	work := t.TempDir()
	epoch := time.Unix(1700000000, 0).UTC()
	var layers []string
	for i, body := range []string{"base", "boot", "top"} {
		tree := filepath.Join(work, body)
		writeTree(t, tree, map[string]string{"etc/" + body: body})
		out := filepath.Join(work, body+".tar.gz")
		spec := layerSpec{root: tree, epoch: epoch}
		if i == 2 {
			spec.whiteouts = []string{"etc/base"}
		}
		if err := writeLayer(context.Background(), spec, out); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, out)
	}
	b := &builder{epoch: epoch, log: io.Discard}
	built := &Built{Tag: "v2-A"}
	if err := b.writeLayout(Variant{2, "A"}, layers, filepath.Join(work, "image"), built); err != nil {
		t.Fatal(err)
	}
	if got, err := readBuilt(filepath.Join(work, "image")); err != nil || got.Digest != built.Digest {
		t.Fatalf("readBuilt = %+v, %v; want digest %s", got, err, built.Digest)
	}

	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/test/derivative:v2-A"
	if err := Push(context.Background(), built, ref); err != nil {
		t.Fatalf("Push: %v", err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pulling back: %v", err)
	}
	d, _ := img.Digest()
	if d.String() != built.Digest {
		t.Errorf("pushed digest = %s, want %s", d, built.Digest)
	}
	ls, _ := img.Layers()
	if len(ls) != 3 {
		t.Fatalf("pushed image has %d layers, want 3", len(ls))
	}
	rc, err := ls[2].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	if diff := cmp.Diff([]string{"etc/", "etc/top", "etc/.wh.base"}, names); diff != "" {
		t.Errorf("top layer (-want +got):\n%s", diff)
	}
}

// TestBootedMarker runs recipe/booted.sh against fake /etc, /run and /proc
// trees to check the marker line and the state.yaml digest lookup.
func TestBootedMarker(t *testing.T) {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skipf("needs awk: %v", err)
	}
	const v2State = `# Autogenerated file by elemental client, do not edit

date: "2025-01-01T00:00:00Z"
recovery:
    label: COS_RECOVERY
    recovery:
        source: oci://r/x:v2-A
        digest: sha256:rrr
state:
    label: COS_STATE
    snapshots:
        1:
            source: oci://r/x:v2-A
            digest: sha256:aaa
        2:
            source: oci://r/x:v2-B
            digest: "sha256:bbb"
            active: true
`
	tests := []struct {
		name, gen, mode, stateDir, state, cmdline, want string
	}{
		{name: "v2 active", gen: "2", mode: "active", stateDir: "elemental-state", state: v2State,
			want: "version=A generation=2 mode=active digest=sha256:bbb"},
		{name: "v2 passive", gen: "2", mode: "passive", stateDir: "elemental-state", state: v2State,
			cmdline: "root=LABEL=COS_STATE elemental.image=/.snapshots/1/snapshot.img elemental.mode=passive",
			want:    "version=A generation=2 mode=passive digest=sha256:aaa"},
		{name: "v2 recovery", gen: "2", mode: "recovery", stateDir: "elemental-state", state: v2State,
			want: "version=A generation=2 mode=recovery digest=sha256:rrr"},
		{name: "v1 active", gen: "1", mode: "active", stateDir: "cos-state",
			state: "state:\n    active:\n        source-metadata:\n            digest: sha256:v1a\n",
			want:  "version=A generation=1 mode=active digest=sha256:v1a"},
		{name: "no state", gen: "2", mode: "active", want: "version=A generation=2 mode=active digest=none"},
	}
	script := filepath.Join(t.TempDir(), "booted.sh")
	if err := os.WriteFile(script, recipe("booted.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			gen := 2
			if tc.gen == "1" {
				gen = 1
			}
			files := map[string]string{
				"etc/os-release":               string(osRelease(gen, "A")),
				"run/cos/" + tc.mode + "_mode": "",
				"proc/cmdline":                 tc.cmdline + "\n",
			}
			if tc.state != "" {
				files["run/initramfs/"+tc.stateDir+"/state.yaml"] = tc.state
			}
			writeTree(t, root, files)
			cmd := exec.Command("sh", script)
			cmd.Env = append(os.Environ(), "BOOTED_ROOT="+root)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("booted.sh: %v\n%s", err, out)
			}
			want := "ELEMENTAL-TEST-BOOTED " + tc.want + "\n"
			if diff := cmp.Diff(want, string(out)); diff != "" {
				t.Errorf("marker (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGrubScriptsParse checks the GRUB snippets with GRUB's own parser: a
// quoting mistake there makes GRUB run menu entry bodies at parse time.
func TestGrubScriptsParse(t *testing.T) {
	if _, err := exec.LookPath("grub-script-check"); err != nil {
		t.Skipf("needs grub-script-check: %v", err)
	}
	for _, f := range []string{"grub-v1.cfg", "grub-v2.cfg", "bootargs-v1.cfg", "bootargs-v2.cfg", "grub-early.cfg"} {
		t.Run(f, func(t *testing.T) {
			cmd := exec.Command("grub-script-check")
			cmd.Stdin = bytes.NewReader(recipe(f))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("grub-script-check %s: %v\n%s", f, err, out)
			}
		})
	}
	for _, l := range strings.Split(string(recipe("grub-early.cfg")), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			t.Errorf("grub-early.cfg has a comment line %q; the rescue parser rejects it", l)
		}
	}
}
