package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadYipOrderAndSteps(t *testing.T) {
	e, _, _ := testEnv(t, 0, map[string]string{
		"oem/99_late.yaml": "stages:\n  rootfs:\n    - name: late\n      commands: [\"true\"]\n",
		"oem/00_disk_layout_setup.yaml": `name: Expand disk
stages:
  rootfs.before:
    - name: Grow persistent
      layout:
        device:
          label: COS_PERSISTENT
        expand_partition:
          size: 0
      hostname: ignored
`,
		"system/oem/50_files.yml":               "stages:\n  boot:\n    - files:\n        - path: /etc/x\n          content: hi\n          permissions: 0600\n",
		"usr/local/cloud-config/10_ignored.txt": "not yaml",
	})
	cfgs, names, err := loadYip(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"/system/oem/50_files.yml", "/oem/00_disk_layout_setup.yaml", "/oem/99_late.yaml"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("file order (-want +got):\n%s", diff)
	}
	step := cfgs[1].Stages["rootfs.before"][0]
	if step.Layout == nil || step.Layout.Device.Label != "COS_PERSISTENT" || step.Layout.Expand == nil || step.Layout.Expand.Size != 0 {
		t.Errorf("layout step = %+v", step.Layout)
	}
	if _, ok := step.Other["hostname"]; !ok {
		t.Errorf("unknown key not collected: %+v", step.Other)
	}
	if f := cfgs[0].Stages["boot"][0].Files[0]; f.Path != "/etc/x" || f.Permissions != 0o600 {
		t.Errorf("file step = %+v", f)
	}
}

func TestRunStageRunsBeforeStageAfter(t *testing.T) {
	e, out, _ := testEnv(t, 0, nil)
	log := filepath.Join(e.root, "order.log")
	yip := func(stage, word string) string {
		return "stages:\n  " + stage + ":\n    - name: " + word + "\n      commands: [\"echo " + word + " >> " + log + "\"]\n"
	}
	files := map[string]string{
		"oem/01.yaml":                    yip("fs.after", "after"),
		"oem/02.yaml":                    yip("fs", "main"),
		"system/oem/03.yaml":             yip("fs.before", "before"),
		"oem/04.yaml":                    "stages:\n  fs:\n    - name: write\n      files:\n        - path: /written\n          content: data\n      unknown_step: 1\n",
		"oem/05.yaml":                    yip("boot", "other-stage"),
		"usr/local/cloud-config/06.yaml": "stages:\n  fs:\n    - name: fails\n      commands: [\"exit 3\"]\n",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(e.root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(e.root, p), []byte(c), 0o644)
	}
	if code := run(context.Background(), []string{"run-stage", "fs"}, e); code != 0 {
		t.Fatalf("run-stage fs: exit %d\n%s", code, out)
	}
	got, _ := os.ReadFile(log)
	if want := "before\nmain\nafter\n"; string(got) != want {
		t.Errorf("order = %q, want %q", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(e.root, "written")); err != nil || string(b) != "data" {
		t.Errorf("files step wrote %q, %v", b, err)
	}
	if !strings.Contains(out.String(), `ignoring unsupported step key "unknown_step"`) {
		t.Errorf("no log line for the unknown key:\n%s", out)
	}
	if code := run(context.Background(), []string{"run-stage", "--strict", "fs"}, e); code != 1 {
		t.Errorf("run-stage --strict with a failing step: exit %d, want 1", code)
	}
}
