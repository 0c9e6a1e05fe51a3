package boot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/elemental-suite/elemental/acctest/derivative"
	"github.com/elemental-suite/elemental/acctest/registry"
)

// upgradeRun carries one generation's upgrade chain.
type upgradeRun struct {
	d       *disk
	b       *derivative.Built
	g       *guest
	ref     string // guest-side reference of B, REF@DIGEST
	regHost string
}

// pushB builds version B and pushes it to a loopback registry that lives
// as long as the test; u.ref is the reference the guest uses
// (10.0.2.2:port/…@digest).
func (u *upgradeRun) pushB(t *testing.T) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	b, err := buildVariant(ctx, u.d.gen, "B")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Start(t.Context(), "127.0.0.1:0", registry.WithBlobDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	repo := fmt.Sprintf("elemental-test/v%d:B", u.d.gen)
	if err := derivative.Push(ctx, b, reg.Host()+"/"+repo); err != nil {
		t.Fatal(err)
	}
	u.b, u.regHost = b, reg.Host()
	u.ref = reg.GuestHost() + "/" + repo + "@" + b.Digest
	t.Logf("pushed %s (%s) to %s in %s", b.Tag, b.Digest, reg.Host(), time.Since(start).Round(time.Second))
}

// upgrade: the stand-in pulls B, the next boot is B and state.yaml has
// B active and A passive.
func (u *upgradeRun) upgrade(t *testing.T) {
	g := u.g
	cmd := "elemental upgrade --tls-verify=false --system oci:" + u.ref
	if u.d.gen == 1 {
		cmd = "elemental upgrade --tls-verify=false --system.uri docker:" + u.ref
	}
	out := g.runFor(t, cmd, actionTimeout)
	if !strings.Contains(out, "Upgrade completed") {
		t.Fatalf("%s printed no \"Upgrade completed\":\n%s", cmd, out)
	}
	g.reboot(t, "B", "active", u.b.Digest)
	g.checkCmdline(t, "active")
	active, passive := u.digests(t)
	if active != u.b.Digest || passive != u.d.res.Digest {
		t.Errorf("state.yaml: active %s, passive %s; want active %s (B), passive %s (A)", active, passive, u.b.Digest, u.d.res.Digest)
	}
}

// fallback: with the active image broken, GRUB's fallback boots the
// passive system (A).
func (u *upgradeRun) fallback(t *testing.T) {
	g := u.g
	dir := stateDir(u.d.gen)
	if u.d.gen == 2 {
		// The running root stays on its loop device; only GRUB's view changes.
		g.run(t, "ln -sfn 99/snapshot.img "+dir+"/.snapshots/active")
	} else {
		// Renaming keeps the running root's inode; an empty active.img is
		// what GRUB then finds.
		g.run(t, "cd "+dir+"/cOS && mv active.img active.img.broken && : > active.img && sync")
	}
	g.rebootUnattended(t, "A", "passive", u.d.res.Digest)
	g.checkCmdline(t, "passive")
}

// markReset puts a file on the state partition, which the reset must
// wipe, and one under /home, which it must keep; it runs before the
// recovery boot (recovery does not mount state).
func (u *upgradeRun) markReset(t *testing.T) {
	u.g.run(t, "echo before > "+stateDir(u.d.gen)+"/elemental-test-before-reset && echo before > /home/elemental-test-kept && sync")
}

// reset: from the recovery system booted by checkRecoveryOnce,
// `elemental reset` rebuilds state from the recovery image (A); the next
// boot is active (so next_entry was one-shot), and the files markReset put
// on state before the reset are gone.
func (u *upgradeRun) reset(t *testing.T) {
	g := u.g
	dir := stateDir(u.d.gen)
	out := g.runFor(t, "elemental reset", actionTimeout)
	if !strings.Contains(out, "Reset completed") {
		t.Fatalf("elemental reset printed no \"Reset completed\":\n%s", out)
	}
	g.reboot(t, "A", "active", u.d.res.Digest)
	g.checkCmdline(t, "active")
	if out, err := g.try(t, "ls -la "+dir+"/elemental-test-before-reset", cmdTimeout); err == nil {
		t.Errorf("a file put on the state partition before the reset survived it: %s", out)
	}
	// Without --reset-persistent the persistent data stays.
	if got := strings.TrimSpace(g.run(t, "cat /home/elemental-test-kept")); got != "before" {
		t.Errorf("/home/elemental-test-kept after reset = %q, want before", got)
	}
	listing := "ls " + dir + "/.snapshots"
	want := "1 active"
	if u.d.gen == 1 {
		listing, want = "ls "+dir+"/cOS", "active.img passive.img"
	}
	if got := strings.Join(strings.Fields(g.run(t, listing)), " "); got != want {
		t.Errorf("%s after reset = %q, want %q", listing, got, want)
	}
	if active, _ := u.digests(t); active != u.d.res.Digest {
		t.Errorf("state.yaml after reset: active %s, want the recovery image's %s", active, u.d.res.Digest)
	}
}

// digests reads the active and passive digests from state.yaml: v2 from
// `elemental state`, v1 from the state partition's state.yaml.
func (u *upgradeRun) digests(t *testing.T) (active, passive string) {
	t.Helper()
	if u.d.gen == 1 {
		var st struct {
			State struct {
				Active, Passive struct {
					Meta struct {
						Digest string `yaml:"digest"`
					} `yaml:"source-metadata"`
				}
			}
		}
		raw := u.g.run(t, "cat "+stateDir(1)+"/state.yaml")
		if err := yaml.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatalf("parsing v1 state.yaml: %v\n%s", err, raw)
		}
		return st.State.Active.Meta.Digest, st.State.Passive.Meta.Digest
	}
	var st struct {
		State struct {
			Snapshots map[int]struct {
				Digest string `yaml:"digest"`
				Active bool   `yaml:"active"`
			}
		}
	}
	raw := u.g.run(t, "elemental state")
	if err := yaml.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("parsing `elemental state`: %v\n%s", err, raw)
	}
	for _, s := range st.State.Snapshots {
		if s.Active {
			active = s.Digest
		} else if passive == "" {
			passive = s.Digest
		}
	}
	if len(st.State.Snapshots) > 2 {
		t.Errorf("state.yaml lists %d snapshots, want at most 2:\n%s", len(st.State.Snapshots), raw)
	}
	return active, passive
}
