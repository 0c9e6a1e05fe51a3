package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeMu serialises fakeNode calls.
var fakeMu sync.Mutex

// fakeNode is an in-memory node: a v2 state, a boot ID that changes on
// reboot, and a recovery entry for the next boot.
type fakeNode struct {
	boot         int
	mode         string
	digest       string
	passives     []string
	pending      string // digest active from the next boot
	nextRecovery bool
	recovery     string // digest of the recovery image
	upgradeCode  int
	bootInto     string // when set, the digest booted regardless (a fallback)
	cmds         []string
	downPolls    int // status polls that fail after a reboot
	hangPolls    int // status polls that hang until cancelled
}

func (f *fakeNode) Run(ctx context.Context, cmd string) (Output, error) {
	fakeMu.Lock()
	if strings.Contains(cmd, "boot_id=") && f.hangPolls > 0 {
		f.hangPolls--
		fakeMu.Unlock()
		<-ctx.Done()
		return Output{}, ctx.Err()
	}
	defer fakeMu.Unlock()
	if strings.Contains(cmd, "boot_id=") {
		if f.downPolls > 0 {
			f.downPolls--
			return Output{}, errors.New("connection refused")
		}
		return Output{Stdout: f.statusOutput()}, nil
	}
	f.cmds = append(f.cmds, cmd)
	switch {
	case strings.HasPrefix(cmd, "elemental upgrade"):
		if f.upgradeCode != 0 {
			return Output{Stderr: "ERRO failed pulling image", Code: f.upgradeCode}, nil
		}
		f.pending = cmd[strings.LastIndex(cmd, "@")+1 : len(cmd)-1]
	case cmd == RebootCommand:
		f.reboot()
	case cmd == RecoveryNextBootCommand:
		f.nextRecovery = true
	case strings.HasPrefix(cmd, "elemental reset"):
		if f.mode != "recovery" {
			return Output{Stderr: "reset can only be called from the recovery system", Code: 1}, nil
		}
		f.pending, f.passives = f.recovery, nil
	default:
		return Output{Code: 127}, nil
	}
	return Output{}, nil
}

func (f *fakeNode) reboot() {
	f.boot++
	f.downPolls = 2
	f.mode = "active"
	if f.nextRecovery {
		f.mode, f.nextRecovery = "recovery", false
		return
	}
	if f.pending != "" {
		f.passives = append([]string{f.digest}, f.passives...)
		f.digest, f.pending = f.pending, ""
	}
	if f.bootInto != "" {
		f.digest = f.bootInto
	}
}

func (f *fakeNode) statusOutput() string {
	var b strings.Builder
	fmt.Fprintf(&b, "boot_id=boot-%d\ngeneration=v2\nmode=%s\n---\nstate:\n  snapshots:\n", f.boot, f.mode)
	n := len(f.passives) + 1
	fmt.Fprintf(&b, "    %d:\n      source: oci://os@%s\n      digest: %s\n      active: true\n", n, f.digest, f.digest)
	for i, p := range f.passives {
		fmt.Fprintf(&b, "    %d:\n      source: oci://os@%s\n      digest: %s\n", n-1-i, p, p)
	}
	return b.String()
}

func (f *fakeNode) Close() error { return nil }

func testNode(f *fakeNode) *Node {
	return &Node{Config: Config{Host: "n1"}, PollInterval: time.Millisecond,
		dial: func(context.Context, Config) (runCloser, error) { return f, nil }}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name       string
		node       fakeNode
		upgrade    Upgrade
		wantErr    string
		wantActive string
		wantCmds   []string
	}{
		{name: "upgrade and reboot", node: fakeNode{digest: "sha256:a"},
			upgrade: Upgrade{Ref: "os", Digest: "sha256:b", Reboot: true}, wantActive: "sha256:b",
			wantCmds: []string{"elemental upgrade --system 'oci:os@sha256:b'", RebootCommand}},
		{name: "already there", node: fakeNode{digest: "sha256:b"},
			upgrade: Upgrade{Ref: "os", Digest: "sha256:b", Reboot: true}, wantActive: "sha256:b"},
		{name: "pull fails", node: fakeNode{digest: "sha256:a", upgradeCode: 18},
			upgrade: Upgrade{Ref: "os", Digest: "sha256:b", Reboot: true}, wantErr: "exited 18: pulling",
			wantCmds: []string{"elemental upgrade --system 'oci:os@sha256:b'"}},
		{name: "boot falls back", node: fakeNode{digest: "sha256:a", bootInto: "sha256:a"},
			upgrade: Upgrade{Ref: "os", Digest: "sha256:b", Reboot: true}, wantErr: "active on sha256:a after the upgrade, want sha256:b",
			wantCmds: []string{"elemental upgrade --system 'oci:os@sha256:b'", RebootCommand}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &tt.node
			f.mode = "active"
			st, err := testNode(f).Apply(context.Background(), tt.upgrade)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if st.ActiveDigest != tt.wantActive {
				t.Errorf("active %s, want %s", st.ActiveDigest, tt.wantActive)
			}
			if diff := cmp.Diff(tt.wantCmds, f.cmds); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyUpgradeRecordsPassive(t *testing.T) {
	f := &fakeNode{digest: "sha256:a", mode: "active"}
	st, err := testNode(f).Apply(context.Background(), Upgrade{Ref: "os", Digest: "sha256:b", Reboot: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&Status{BootID: "boot-1", Generation: "v2", Mode: "active", ActiveSource: "oci://os@sha256:b",
		ActiveDigest: "sha256:b", PassiveDigests: []string{"sha256:a"}}, st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestReset(t *testing.T) {
	f := &fakeNode{digest: "sha256:b", passives: []string{"sha256:a"}, recovery: "sha256:r", mode: "active"}
	st, err := testNode(f).Reset(context.Background(), true, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{RecoveryNextBootCommand, RebootCommand, "elemental reset --reset-persistent", RebootCommand}
	if diff := cmp.Diff(want, f.cmds); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if st.Mode != "active" || st.ActiveDigest != "sha256:r" || st.BootID != "boot-2" {
		t.Errorf("after reset: %+v", st)
	}
}

func TestWaitForBootTimesOut(t *testing.T) {
	f := &fakeNode{digest: "sha256:a", mode: "active"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := testNode(f).WaitForBoot(ctx, "boot-0")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not come back") {
		t.Fatalf("got %v, want a deadline error", err)
	}
}

func TestParseStatusV1(t *testing.T) {
	out := "boot_id=b1\ngeneration=v1\nmode=passive\n---\n" + `date: "2023-09-11T09:10:16Z"
state:
    label: COS_STATE
    active:  {source: "docker://os@sha256:b", source-metadata: {digest: "sha256:b", size: 10}, label: COS_ACTIVE, fs: ext2}
    passive: {source: "docker://os@sha256:a", source-metadata: {digest: "sha256:a"}, label: COS_PASSIVE, fs: ext2}
`
	st, err := parseStatus(out)
	if err != nil {
		t.Fatal(err)
	}
	want := &Status{BootID: "b1", Generation: "v1", Mode: "passive", ActiveSource: "docker://os@sha256:b",
		ActiveDigest: "sha256:b", PassiveDigests: []string{"sha256:a"}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseStatusErrors(t *testing.T) {
	tests := []struct{ name, out, want string }{
		{name: "no separator", out: "boot_id=x\n", want: "no separator"},
		{name: "no boot id", out: "generation=v2\n---\n", want: "no boot id"},
		{name: "no active", out: "boot_id=x\ngeneration=v2\n---\nstate: {snapshots: {1: {digest: sha256:a}}}\n", want: "no active snapshot"},
		{name: "bad yaml", out: "boot_id=x\ngeneration=v2\n---\n: : :\n", want: "parsing elemental state output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseStatus(tt.out); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestWaitForBootSurvivesHungRead: a status read that hangs (a connection
// to a node going down) is abandoned after AttemptTimeout.
func TestWaitForBootSurvivesHungRead(t *testing.T) {
	f := &fakeNode{digest: "sha256:a", mode: "active", boot: 1, hangPolls: 2}
	n := testNode(f)
	n.AttemptTimeout = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := n.WaitForBoot(ctx, "boot-0")
	if err != nil || st.BootID != "boot-1" {
		t.Fatalf("got %v, %v", st, err)
	}
}
