package secrets

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
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// fakeElemental stands in for the toolkit on the node, as
// terraform-provider/internal/node/nodetest's does: it logs its arguments
// (scanned for secrets too), prints state.yaml for `state` and makes the
// requested digest active on `upgrade`.
const fakeElemental = `#!/bin/sh
d="$ELEMENTAL_FAKE"
echo "$*" >> "$d/calls"
env >> "$d/env"
case "$1" in
state) cat "$d/state.yaml" ;;
version) echo v2.2.0 ;;
upgrade)
  uri="$3"; dig="${uri##*@}"
  printf 'state:\n  snapshots:\n    2:\n      source: "%s"\n      digest: "%s"\n      active: true\n    1:\n      source: old\n      digest: "sha256:old"\n      active: false\n' "$uri" "$dig" > "$d/state.yaml"
  echo "Upgrade completed" ;;
*) exit 1 ;;
esac
`

// guard replaces commands that must never run for real.
const guard = "#!/bin/sh\necho \"$0 $*\" >> \"$ELEMENTAL_FAKE/calls\"\n"

// node is Debian's sshd on a loopback port, with the run's SSH key
// authorized and a fake toolkit on its PATH.
type node struct {
	dir     string // the fake's files: calls, env, state.yaml
	port    int
	user    string
	hostKey string // authorized_keys line
	log     string // sshd's log file
}

// sshdBinary finds Debian's sshd and its privilege separation directory,
// skipping the test without them.
func sshdBinary(t *testing.T) (bin, username string) {
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
			t.Skipf("needs sshd's privilege separation directory /run/sshd: %v", err)
		}
	}
	return bin, u.Username
}

// startNode runs sshd in dir, authorizing key. It skips without sshd.
func startNode(t *testing.T, dir string, key ssh.Signer) *node {
	t.Helper()
	bin, username := sshdBinary(t)
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostBlock, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{dir: dir, user: username, port: freePort(t), log: filepath.Join(dir, "sshd.log"),
		hostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey())))}
	files := map[string]string{
		"hostkey":         string(pem.EncodeToMemory(hostBlock)),
		"authorized_keys": string(ssh.MarshalAuthorizedKey(key.PublicKey())),
		"bin/elemental":   fakeElemental,
		"state.yaml":      "state:\n  snapshots:\n    1:\n      source: old\n      digest: \"sha256:old\"\n      active: true\n",
		"sshd_config": fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/hostkey
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin yes
LogLevel DEBUG3
SetEnv PATH=%[2]s/bin:/usr/local/bin:/usr/bin:/bin ELEMENTAL_FAKE=%[2]s
`, n.port, dir),
	}
	for _, g := range []string{"reboot", "systemctl", "systemd-run", "grub2-editenv", "grub-editenv"} {
		files["bin/"+g] = guard
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// -E: the log, DEBUG3 included, lands in dir and is scanned.
	cmd := exec.Command(bin, "-D", "-E", n.log, "-f", filepath.Join(dir, "sshd_config"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitPort(t, n.port)
	return n
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
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("sshd did not listen on %d", port)
}

// calls is what the fake toolkit was run with.
func (n *node) calls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, "calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
