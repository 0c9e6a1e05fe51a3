package node_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/elemental-suite/elemental/terraform-provider/internal/node"
	"github.com/elemental-suite/elemental/terraform-provider/internal/node/nodetest"
)

func TestSSHDUpgrade(t *testing.T) {
	s := nodetest.Start(t)
	ctx := context.Background()
	n := &node.Node{Config: s.Config(), PollInterval: 100 * time.Millisecond}
	st, err := n.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if st.ActiveDigest != "sha256:old" || st.Generation != "v2" || st.BootID != strings.TrimSpace(string(bootID)) {
		t.Fatalf("status %+v (host boot id %s)", st, bootID)
	}
	st, err = n.Apply(ctx, node.Upgrade{Ref: "registry.example/os", Digest: "sha256:new", Reboot: false})
	if err != nil {
		t.Fatal(err)
	}
	if st.ActiveDigest != "sha256:new" || st.ActiveSource != "oci:registry.example/os@sha256:new" ||
		len(st.PassiveDigests) != 1 || st.PassiveDigests[0] != "sha256:old" {
		t.Errorf("after upgrade: %+v", st)
	}
	calls := s.Calls(t)
	if !strings.Contains(calls, "upgrade --system oci:registry.example/os@sha256:new\n") {
		t.Errorf("toolkit calls:\n%s", calls)
	}
	if strings.Contains(calls, "--reboot") || strings.Contains(calls, "reboot ") || strings.Contains(calls, "systemctl") {
		t.Errorf("a reboot was requested with reboot = false:\n%s", calls)
	}
}

func TestSSHDExitCode(t *testing.T) {
	s := nodetest.Start(t)
	nodetest.Write(t, filepath.Join(s.Dir, "exit"), []byte("18\n"), 0o644)
	n := &node.Node{Config: s.Config()}
	_, err := n.Apply(context.Background(), node.Upgrade{Ref: "registry.example/os", Digest: "sha256:new"})
	var ee *node.ExitError
	if !errors.As(err, &ee) || ee.Code != 18 || !strings.Contains(err.Error(), "pulling or extracting the image failed") ||
		!strings.Contains(err.Error(), "ERRO simulated failure") {
		t.Fatalf("got %v, want exit 18 with its meaning and the toolkit's output", err)
	}
}

func TestSSHDHostKeys(t *testing.T) {
	s := nodetest.Start(t)
	other, _ := nodetest.NewKey(t)
	known := filepath.Join(s.Dir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(s.HostKey.PublicKey()))
	nodetest.Write(t, known, []byte(line), 0o600)
	unknown := filepath.Join(s.Dir, "known_hosts_other")
	nodetest.Write(t, unknown, []byte("[10.9.9.9]:22 "+string(ssh.MarshalAuthorizedKey(other.PublicKey()))), 0o600)
	tests := []struct {
		name      string
		edit      func(*node.Config)
		wantErr   error
		wantInErr string
	}{
		{name: "pinned key", edit: func(*node.Config) {}},
		{name: "known_hosts", edit: func(c *node.Config) { c.HostKey, c.KnownHostsFile = "", known }},
		{name: "wrong pinned key refused", edit: func(c *node.Config) { c.HostKey = string(ssh.MarshalAuthorizedKey(other.PublicKey())) },
			wantErr: node.ErrHostKey, wantInErr: "HOST IDENTIFICATION HAS CHANGED"},
		{name: "host missing from known_hosts refused", edit: func(c *node.Config) { c.HostKey, c.KnownHostsFile = "", unknown },
			wantErr: node.ErrHostKey, wantInErr: "is not known"},
		{name: "no verification configured refused", edit: func(c *node.Config) { c.HostKey = "" }, wantErr: node.ErrNoHostKey},
		{name: "explicit opt-out", edit: func(c *node.Config) { c.HostKey, c.InsecureIgnoreHostKey = "", true }},
		{name: "through a bastion", edit: func(c *node.Config) { b := s.Config(); c.Bastion = &b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s.Config()
			tt.edit(&cfg)
			c, err := node.Dial(context.Background(), cfg)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				out, err := c.Run(context.Background(), "echo ok")
				if err != nil || out.Stdout != "ok\n" {
					t.Fatalf("run: %q %v", out.Stdout, err)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("got %v, want %v containing %q", err, tt.wantErr, tt.wantInErr)
			}
		})
	}
}

// TestSSHDHangup: a long command run with RunHangup ends with its
// session; its output and exit code come through the terminal.
func TestSSHDHangup(t *testing.T) {
	s := nodetest.Start(t)
	c, err := node.Dial(context.Background(), s.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := c.RunHangup(context.Background(), "echo one; echo two >&2; exit 7")
	if err != nil || out.Code != 7 || out.Stdout != "one\ntwo\n" {
		t.Fatalf("RunHangup = %+v, %v; want one\\ntwo\\n and exit 7", out, err)
	}
	tests := []struct {
		name   string
		hangup bool
		want   bool // the command finishes after the cancellation
	}{
		{name: "hangup ends the command", hangup: true, want: false},
		{name: "a plain session runs on, hence RunHangup", hangup: false, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mark := filepath.Join(t.TempDir(), "finished")
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			cmd := "sleep 2; touch '" + mark + "'"
			var out node.Output
			var err error
			start := time.Now()
			if tt.hangup {
				out, err = c.RunHangup(ctx, cmd)
			} else {
				out, err = c.Run(ctx, cmd)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %+v, %v after %s, want the context's error", out, err, time.Since(start))
			}
			time.Sleep(3 * time.Second)
			if _, err := os.Stat(mark); (err == nil) != tt.want {
				t.Errorf("command finished after the cancellation: %v, want %v", err == nil, tt.want)
			}
		})
	}
}

// TestSSHDRejectedKeyStopsRetrying checks that a key sshd rejects ends
// StatusRetry after the auth window with ErrAuthRejected, not at the
// (much longer) operation timeout.
func TestSSHDRejectedKeyStopsRetrying(t *testing.T) {
	s := nodetest.Start(t)
	cfg := s.Config()
	_, cfg.PrivateKey = nodetest.NewKey(t)
	n := &node.Node{Config: cfg, PollInterval: 100 * time.Millisecond, AuthWindow: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := n.StatusRetry(ctx)
	if !errors.Is(err, node.ErrAuthRejected) || ctx.Err() != nil {
		t.Fatalf("got %v (ctx %v), want ErrAuthRejected before the deadline", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "as "+cfg.User) {
		t.Errorf("error %q does not name the user", err)
	}
}
