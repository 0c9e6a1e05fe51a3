package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCleanOldSnapshots(t *testing.T) {
	tests := []struct {
		name         string
		ids          []string
		active       int
		maxSnaps     int
		loopBacking  string
		wantPassives []int
		wantLeft     []string
	}{
		{name: "keeps one passive", ids: []string{"1", "2", "3"}, active: 3, maxSnaps: 2, wantPassives: []int{2}, wantLeft: []string{"2", "3"}},
		{name: "keeps in-use snapshot", ids: []string{"1", "2", "3"}, active: 3, maxSnaps: 2,
			loopBacking: "/run/initramfs/elemental-state/.snapshots/1/snapshot.img\n", wantPassives: []int{2, 1}, wantLeft: []string{"1", "2", "3"}},
		{name: "max-snaps 4", ids: []string{"1", "2", "3", "4", "5"}, active: 5, maxSnaps: 4, wantPassives: []int{4, 3, 2}, wantLeft: []string{"2", "3", "4", "5"}},
		{name: "first upgrade", ids: []string{"1", "2"}, active: 2, maxSnaps: 2, wantPassives: []int{1}, wantLeft: []string{"1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			if tt.loopBacking != "" {
				files["sys/block/loop0/loop/backing_file"] = tt.loopBacking
			}
			e, _, _ := testEnv(t, 0, files)
			snaps := filepath.Join(t.TempDir(), ".snapshots")
			for _, id := range tt.ids {
				os.MkdirAll(filepath.Join(snaps, id), 0o755)
			}
			if err := setActive(snaps, tt.active); err != nil {
				t.Fatal(err)
			}
			got, err := cleanOldSnapshots(e, snaps, tt.active, tt.maxSnaps)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantPassives, got); diff != "" {
				t.Errorf("passives (-want +got):\n%s", diff)
			}
			var left []string
			entries, _ := os.ReadDir(snaps)
			for _, d := range entries {
				if d.IsDir() {
					left = append(left, d.Name())
				}
			}
			if diff := cmp.Diff(tt.wantLeft, left); diff != "" {
				t.Errorf("snapshot dirs (-want +got):\n%s", diff)
			}
			if target, _ := os.Readlink(filepath.Join(snaps, "active")); target != filepath.Join(tt.ids[len(tt.ids)-1], "snapshot.img") {
				t.Errorf("active -> %q", target)
			}
		})
	}
}

func TestDropIncomplete(t *testing.T) {
	tests := []struct {
		name     string
		dirs     []string // under .snapshots
		active   int
		wantLeft []string
	}{
		{name: "interrupted upgrade", dirs: []string{"1/snapshot.img", "2/snapshot.workDir/usr"}, active: 1, wantLeft: []string{"1"}},
		{name: "nothing to drop", dirs: []string{"1/snapshot.img", "2/snapshot.img"}, active: 2, wantLeft: []string{"1", "2"}},
		{name: "never the active one", dirs: []string{"3/snapshot.img", "3/snapshot.workDir"}, active: 3, wantLeft: []string{"3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, stderr := testEnv(t, 0, nil)
			snaps := filepath.Join(t.TempDir(), ".snapshots")
			for _, d := range tt.dirs {
				os.MkdirAll(filepath.Join(snaps, d), 0o755)
			}
			if err := setActive(snaps, tt.active); err != nil {
				t.Fatal(err)
			}
			if err := dropIncomplete(e, snaps); err != nil {
				t.Fatal(err)
			}
			ids, err := listSnapshots(snaps)
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for i := len(ids) - 1; i >= 0; i-- {
				left = append(left, fmt.Sprint(ids[i]))
			}
			if diff := cmp.Diff(tt.wantLeft, left); diff != "" {
				t.Errorf("snapshots left (-want +got):\n%s\nlog: %s", diff, stderr)
			}
		})
	}
}

func TestESPVars(t *testing.T) {
	var st stateV2
	st.ensureDefaults()
	got := espVarsV2(&st, "Test OS", []int{3, 2})
	want := []kv{{"state_label", "COS_STATE"}, {"recovery_label", "COS_RECOVERY"}, {"oem_label", "COS_OEM"},
		{"persistent_label", "COS_PERSISTENT"}, {"default_menu_entry", "Test OS"},
		{"default_fallback", "0 1 2 3"}, {"passive_snaps", "3 2"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(kv{})); diff != "" {
		t.Errorf("vars (-want +got):\n%s", diff)
	}
	if got := fallbackList(0); got != "0 1" {
		t.Errorf("fallback with no passives = %q, want \"0 1\"", got)
	}
}

func TestCreateDirStructure(t *testing.T) {
	tests := []struct {
		name string
		gen  generation
		want map[string]os.FileMode
	}{
		{name: "v2", gen: genV2, want: map[string]os.FileMode{"run": 0o777, "proc": 0o555, "tmp": 0o777 | os.ModeSticky, "etc/elemental/config.d": 0o777}},
		{name: "v1 adds usr/local", gen: genV1, want: map[string]os.FileMode{"usr/local": 0o755, "oem": 0o777}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := createDirStructure(dir, tt.gen); err != nil {
				t.Fatal(err)
			}
			for p, mode := range tt.want {
				fi, err := os.Stat(filepath.Join(dir, p))
				if err != nil || fi.Mode()&(os.ModePerm|os.ModeSticky) != mode {
					t.Errorf("%s: %v (%v), want %v", p, fi.Mode(), err, mode)
				}
			}
		})
	}
}

func TestFindKernelResolvesSymlinks(t *testing.T) {
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "boot"), 0o755)
	os.WriteFile(filepath.Join(tree, "boot/vmlinuz-6.1.0-test"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(tree, "boot/elemental.initrd-6.1.0-test"), []byte("i"), 0o644)
	os.Symlink("vmlinuz-6.1.0-test", filepath.Join(tree, "boot/vmlinuz"))
	os.Symlink("/boot/elemental.initrd-6.1.0-test", filepath.Join(tree, "boot/initrd"))
	k, err := findInTree(tree, kernelPatterns)
	if err != nil || k != "/boot/vmlinuz-6.1.0-test" {
		t.Errorf("kernel = %q, %v", k, err)
	}
	i, err := findInTree(tree, initrdPatterns)
	if err != nil || i != "/boot/elemental.initrd-6.1.0-test" {
		t.Errorf("initrd = %q, %v", i, err)
	}
}
