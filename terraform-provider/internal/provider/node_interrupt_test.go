package provider_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/elemental-suite/elemental/terraform-provider/internal/node"
)

// workDirs lists, in the guest, the work directories of snapshots being
// written: they exist from the start of `elemental upgrade`'s transaction
// until just before it switches the active snapshot.
const workDirs = `ls -d /run/*/*/.snapshots/*/snapshot.workDir 2>/dev/null; true`

// interrupter presses Ctrl-C on `terraform apply` once the guest's
// upgrade transaction has started.
type interrupter struct {
	done chan struct{}
	err  error
	pid  int
}

// interruptUpgrade watches the guest for an upgrade's work directory and
// then sends SIGINT to the terraform process the test harness runs, as a
// user pressing Ctrl-C would. Terraform then stops the provider, whose
// context ends, which hangs up the remote `elemental upgrade`
// mid-transaction.
func (n *bootNode) interruptUpgrade() *interrupter {
	return interruptWhen(20*time.Minute, func(ctx context.Context) error {
		out, err := n.vm.Run(ctx, workDirs)
		if err == nil && strings.TrimSpace(out) == "" {
			err = errors.New("no upgrade transaction in the guest yet")
		}
		return err
	})
}

// interruptWhen polls started until it returns nil, then interrupts
// terraform.
func interruptWhen(timeout time.Duration, started func(context.Context) error) *interrupter {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	in := &interrupter{done: make(chan struct{})}
	go func() {
		defer close(in.done)
		defer cancel()
		for {
			err := started(ctx)
			if err == nil {
				in.pid, in.err = interruptTerraform()
				return
			}
			select {
			case <-ctx.Done():
				in.err = fmt.Errorf("nothing to interrupt: %w (last: %v)", ctx.Err(), err)
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return in
}

// wait fails the test unless the interruption happened.
func (in *interrupter) wait(t *testing.T) {
	t.Helper()
	select {
	case <-in.done:
	case <-time.After(time.Minute):
		t.Fatal("the interrupter is still waiting after the interrupted apply")
	}
	if in.err != nil {
		t.Fatalf("interrupting terraform apply: %v", in.err)
	}
	t.Logf("sent SIGINT to terraform (pid %d)", in.pid)
}

// interruptTerraform sends SIGINT to the terraform child of this test
// process (terraform-plugin-testing runs one command at a time).
func interruptTerraform() (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || len(s) < end+2 {
			continue
		}
		f := strings.Fields(s[end+2:])
		if len(f) < 2 || s[open+1:end] != "terraform" || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		return pid, syscall.Kill(pid, syscall.SIGINT)
	}
	return 0, errors.New("no terraform process is running under this test")
}

// client reads the node's status as the provider does.
func (n *bootNode) client() *node.Node {
	port, _ := strconv.Atoi(n.sshPort)
	key, _ := os.ReadFile(n.keyFile)
	return &node.Node{Config: node.Config{Host: "127.0.0.1", Port: port, User: "root",
		PrivateKey: key, HostKey: n.hostKey}, PollInterval: 2 * time.Second}
}

// rebootStillOn checks that the interrupted upgrade switched nothing,
// reboots the node by hand and checks that it booted the same image
// (digest, os-release VERSION, from the active snapshot). It returns the
// new boot ID.
func (n *bootNode) rebootStillOn(t *testing.T, digest, version string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c := n.client()
	st, err := c.StatusRetry(ctx)
	if err != nil {
		t.Fatalf("status after the interruption: %v", err)
	}
	if st.ActiveDigest != digest {
		t.Fatalf("after the interrupted upgrade the active snapshot is %s, want the previous %s", st.ActiveDigest, digest)
	}
	// The killed upgrade must be gone, not finishing in the background.
	deadline := time.Now().Add(time.Minute)
	for {
		out, _ := n.vm.Run(ctx, "pgrep -ax elemental | grep ' upgrade' || true")
		if strings.TrimSpace(out) == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("elemental upgrade still runs in the guest a minute after the interruption: %s", out)
		}
		time.Sleep(2 * time.Second)
	}
	// The interrupter fired once the transaction had started; a toolkit
	// that cleans up on SIGHUP leaves no work directory, one killed
	// outright (the stand-in) leaves it for the next upgrade to remove.
	out, _ := n.vm.Run(ctx, workDirs)
	t.Logf("left by the interrupted upgrade: %q", strings.TrimSpace(out))
	if err := n.vm.Reboot(ctx); err != nil {
		t.Fatalf("rebooting the node: %v", err)
	}
	if st, err = c.WaitForBoot(ctx, st.BootID); err != nil {
		t.Fatal(err)
	}
	if st.ActiveDigest != digest || st.Mode != "active" {
		t.Fatalf("after the interrupted upgrade and a reboot the node runs %s (%s), want %s (active)", st.ActiveDigest, st.Mode, digest)
	}
	if err := n.guestVersion(version); err != nil {
		t.Fatal(err)
	}
	return st.BootID
}

// guestVersion checks the running system's os-release VERSION.
func (n *bootNode) guestVersion(want string) error {
	out, err := n.vm.Run(context.Background(), ". /etc/os-release; echo $VERSION")
	if err != nil || strings.TrimSpace(out) != want {
		return fmt.Errorf("guest os-release VERSION %q (%v), want %s", out, err, want)
	}
	return nil
}

// noIncompleteSnapshot checks that the upgrade after the interruption
// removed the partial snapshot.
func (n *bootNode) noIncompleteSnapshot() error {
	out, err := n.vm.Run(context.Background(), workDirs)
	if err != nil || strings.TrimSpace(out) != "" {
		return fmt.Errorf("partial snapshots left after the next upgrade: %q (%v)", out, err)
	}
	return nil
}

// outOfBandUpgrade upgrades the node by hand, without a reboot, to a
// tiny image pushed for the purpose: the active snapshot changes (what
// elemental state and so the provider's Read report) at a fraction of
// the cost of pulling a whole derivative under emulation. The node never
// boots it: the step after it resets the node, whose recovery image
// rebuilds the state partition anyway.
func (n *bootNode) outOfBandUpgrade(t *testing.T) string {
	t.Helper()
	layer, err := crane.Layer(map[string][]byte{
		"etc/os-release": []byte("NAME=\"Out of band\"\nVERSION=\"OOB\"\nID=debian\nGRUB_ENTRY_NAME=\"Out of band\"\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(n.reg.Host() + "/derivative:out-of-band")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.vm.Run(context.Background(), "elemental upgrade --tls-verify=false --system oci:"+
		n.vm.GuestRegistry()+"/derivative@"+d.String())
	if err != nil {
		t.Fatalf("out-of-band upgrade: %v\n%s", err, out)
	}
	return d.String()
}
