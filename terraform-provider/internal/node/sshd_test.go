package node_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/elemental-suite/elemental/terraform-provider/internal/node"
)

// fakeElemental stands in for the toolkit: it logs its arguments, prints
// state.yaml for `state`, and for `upgrade` either exits with the code in
// $ELEMENTAL_FAKE/exit or makes the requested digest active.
const fakeElemental = `#!/bin/sh
d="$ELEMENTAL_FAKE"
echo "$*" >> "$d/calls"
case "$1" in
state) cat "$d/state.yaml" ;;
version) echo v2.2.0 ;;
upgrade)
  code=$(cat "$d/exit" 2>/dev/null || echo 0)
  if [ "$code" != 0 ]; then echo "ERRO simulated failure" >&2; exit "$code"; fi
  uri="$3"; dig="${uri##*@}"
  printf 'state:\n  snapshots:\n    2:\n      source: "%s"\n      digest: "%s"\n      active: true\n    1:\n      source: old\n      digest: "sha256:old"\n' "$uri" "$dig" > "$d/state.yaml"
  echo "Upgrade completed" ;;
*) exit 1 ;;
esac
`

// guard replaces commands that must never run for real in these tests.
const guard = "#!/bin/sh\necho \"$0 $*\" >> \"$ELEMENTAL_FAKE/calls\"\n"

type sshd struct {
	dir     string
	port    int
	hostKey ssh.Signer
	client  []byte // private key
	user    string
}

// startSSHD runs Debian's sshd on a loopback port with a temporary host
// key, authorized key and PATH holding the fake elemental.
func startSSHD(t *testing.T) *sshd {
	t.Helper()
	bin, err := exec.LookPath("sshd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/sshd"); serr != nil {
			t.Skipf("needs sshd (apt-get install openssh-server): %v", err)
		}
		bin = "/usr/sbin/sshd"
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if u.Uid == "0" {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Skipf("needs the sshd privilege separation directory /run/sshd: %v", err)
		}
	}
	s := &sshd{dir: t.TempDir(), user: u.Username}
	var hostPEM []byte
	s.hostKey, hostPEM = newKey(t)
	clientSigner, clientPEM := newKey(t)
	s.client = clientPEM
	write(t, filepath.Join(s.dir, "hostkey"), hostPEM, 0o600)
	write(t, filepath.Join(s.dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientSigner.PublicKey()), 0o600)
	write(t, filepath.Join(s.dir, "bin", "elemental"), []byte(fakeElemental), 0o755)
	for _, g := range []string{"reboot", "systemctl", "systemd-run", "grub2-editenv", "grub-editenv"} {
		write(t, filepath.Join(s.dir, "bin", g), []byte(guard), 0o755)
	}
	write(t, filepath.Join(s.dir, "state.yaml"), []byte("state:\n  snapshots:\n    1:\n      source: old\n      digest: \"sha256:old\"\n      active: true\n"), 0o644)
	s.port = freePort(t)
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/hostkey
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
SetEnv PATH=%[2]s/bin:/usr/local/bin:/usr/bin:/bin ELEMENTAL_FAKE=%[2]s
`, s.port, s.dir)
	write(t, filepath.Join(s.dir, "sshd_config"), []byte(conf), 0o600)
	cmd := exec.Command(bin, "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"))
	var log strings.Builder
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", log.String())
		}
	})
	waitPort(t, s.port)
	return s
}

func write(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sshd did not listen on %d", port)
}

func (s *sshd) config() node.Config {
	return node.Config{Host: "127.0.0.1", Port: s.port, User: s.user, PrivateKey: s.client,
		HostKey: string(ssh.MarshalAuthorizedKey(s.hostKey.PublicKey())), ConnectTimeout: 5 * time.Second}
}

func (s *sshd) calls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func TestSSHDUpgrade(t *testing.T) {
	s := startSSHD(t)
	ctx := context.Background()
	n := &node.Node{Config: s.config(), PollInterval: 100 * time.Millisecond}
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
	calls := s.calls(t)
	if !strings.Contains(calls, "upgrade --system oci:registry.example/os@sha256:new\n") {
		t.Errorf("toolkit calls:\n%s", calls)
	}
	if strings.Contains(calls, "--reboot") || strings.Contains(calls, "reboot ") || strings.Contains(calls, "systemctl") {
		t.Errorf("a reboot was requested with reboot = false:\n%s", calls)
	}
}

func TestSSHDExitCode(t *testing.T) {
	s := startSSHD(t)
	write(t, filepath.Join(s.dir, "exit"), []byte("18\n"), 0o644)
	n := &node.Node{Config: s.config()}
	_, err := n.Apply(context.Background(), node.Upgrade{Ref: "registry.example/os", Digest: "sha256:new"})
	var ee *node.ExitError
	if !errors.As(err, &ee) || ee.Code != 18 || !strings.Contains(err.Error(), "pulling or extracting the image failed") ||
		!strings.Contains(err.Error(), "ERRO simulated failure") {
		t.Fatalf("got %v, want exit 18 with its meaning and the toolkit's output", err)
	}
}

func TestSSHDHostKeys(t *testing.T) {
	s := startSSHD(t)
	other, _ := newKey(t)
	known := filepath.Join(s.dir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", s.port, ssh.MarshalAuthorizedKey(s.hostKey.PublicKey()))
	write(t, known, []byte(line), 0o600)
	unknown := filepath.Join(s.dir, "known_hosts_other")
	write(t, unknown, []byte("[10.9.9.9]:22 "+string(ssh.MarshalAuthorizedKey(other.PublicKey()))), 0o600)
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
		{name: "through a bastion", edit: func(c *node.Config) { b := s.config(); c.Bastion = &b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s.config()
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
