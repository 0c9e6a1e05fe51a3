package nodetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
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

// FakeElemental stands in for the toolkit: it logs its arguments, prints
// state.yaml for `state`, and for `upgrade` either exits with the code in
// $ELEMENTAL_FAKE/exit or makes the requested digest active; with
// $ELEMENTAL_FAKE/delay it first creates $ELEMENTAL_FAKE/upgrading and
// sleeps that many seconds (a slow pull, to interrupt).
const FakeElemental = `#!/bin/sh
d="$ELEMENTAL_FAKE"
echo "$*" >> "$d/calls"
case "$1" in
state) cat "$d/state.yaml" ;;
version) echo v2.2.0 ;;
upgrade)
  code=$(cat "$d/exit" 2>/dev/null || echo 0)
  if [ "$code" != 0 ]; then echo "ERRO simulated failure" >&2; exit "$code"; fi
  if [ -f "$d/delay" ]; then : > "$d/upgrading"; sleep "$(cat "$d/delay")"; fi
  uri="$3"; dig="${uri##*@}"
  printf 'state:\n  snapshots:\n    2:\n      source: "%s"\n      digest: "%s"\n      active: true\n    1:\n      source: old\n      digest: "sha256:old"\n' "$uri" "$dig" > "$d/state.yaml"
  echo "Upgrade completed" ;;
*) exit 1 ;;
esac
`

// guard replaces commands that must never run for real in these tests.
const guard = "#!/bin/sh\necho \"$0 $*\" >> \"$ELEMENTAL_FAKE/calls\"\n"

// SSHD is a running sshd for tests.
type SSHD struct {
	Dir     string // holds bin/, calls, state.yaml, exit
	Port    int
	HostKey ssh.Signer
	Client  []byte // the authorized private key (OpenSSH PEM)
	User    string
}

// Start runs Debian's sshd on a loopback port with a temporary host
// key, authorized key and PATH holding the fake elemental.
func Start(t testing.TB) *SSHD {
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
	s := &SSHD{Dir: t.TempDir(), User: u.Username}
	var hostPEM []byte
	s.HostKey, hostPEM = NewKey(t)
	clientSigner, clientPEM := NewKey(t)
	s.Client = clientPEM
	Write(t, filepath.Join(s.Dir, "hostkey"), hostPEM, 0o600)
	Write(t, filepath.Join(s.Dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientSigner.PublicKey()), 0o600)
	Write(t, filepath.Join(s.Dir, "bin", "elemental"), []byte(FakeElemental), 0o755)
	for _, g := range []string{"reboot", "systemctl", "systemd-run", "grub2-editenv", "grub-editenv"} {
		Write(t, filepath.Join(s.Dir, "bin", g), []byte(guard), 0o755)
	}
	Write(t, filepath.Join(s.Dir, "state.yaml"), []byte("state:\n  snapshots:\n    1:\n      source: old\n      digest: \"sha256:old\"\n      active: true\n"), 0o644)
	s.Port = freePort(t)
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
`, s.Port, s.Dir)
	Write(t, filepath.Join(s.Dir, "sshd_config"), []byte(conf), 0o600)
	cmd := exec.Command(bin, "-D", "-e", "-f", filepath.Join(s.Dir, "sshd_config"))
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
	waitPort(t, s.Port)
	return s
}

// Write writes a file, creating its directory.
func Write(t testing.TB, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(t testing.TB, port int) {
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

// Config reaches the sshd with the authorized key and pinned host key.
func (s *SSHD) Config() node.Config {
	return node.Config{Host: "127.0.0.1", Port: s.Port, User: s.User, PrivateKey: s.Client,
		HostKey: string(ssh.MarshalAuthorizedKey(s.HostKey.PublicKey())), ConnectTimeout: 5 * time.Second}
}

// Calls returns what the fake toolkit and guarded commands were called with.
func (s *SSHD) Calls(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, "calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// NewKey makes an ed25519 key: its signer and OpenSSH PEM.
func NewKey(t testing.TB) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

// SetDigest makes digest the active one in the fake state.yaml.
func (s *SSHD) SetDigest(t testing.TB, digest string) {
	t.Helper()
	Write(t, filepath.Join(s.Dir, "state.yaml"), []byte(fmt.Sprintf("state:\n  snapshots:\n    1:\n      source: old\n      digest: %q\n      active: true\n", digest)), 0o644)
}

// HostKeyLine is the host key in authorized_keys format.
func (s *SSHD) HostKeyLine() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey.PublicKey())))
}
