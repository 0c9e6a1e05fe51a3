package secrets

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/ssh"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// registryUser is the registry user name: not a secret.
const registryUser = "secrets-test"

// creds are the unique secret values of one run.
type creds struct {
	RegistryPassword string
	AccessKey        string // AWS access key ID
	SecretKey        string
	SessionToken     string
	SSHKey           []byte   // OpenSSH PEM of an ed25519 key
	SSHKeyCommon     []string // lines SSHKey shares with every such key
	SSHSigner        ssh.Signer
	SSHPassword      string
	WrongPassword    string // a registry password the registry refuses
	WrongToken       string // a session token the AWS gate refuses
	WrongSSHKey      []byte // a key sshd does not accept
	GCP              *gcpCreds
}

// newCreds makes fresh values, each with a prefix naming it so a finding
// is easy to trace.
func newCreds(t *testing.T) *creds {
	t.Helper()
	rnd := func(n int) string {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
	signer, key := newSSHKey(t)
	_, other := newSSHKey(t)
	_, wrong := newSSHKey(t)
	return &creds{
		RegistryPassword: "regpw-" + rnd(12) + "&/+=",
		AccessKey:        "AKIA" + strings.ToUpper(rnd(8)),
		SecretKey:        "awssecret/" + rnd(15),
		SessionToken:     "IQoJb3JpZ2luX2VjE" + rnd(24) + "==",
		SSHKey:           key,
		SSHKeyCommon:     strings.Split(string(other), "\n"),
		SSHSigner:        signer,
		SSHPassword:      "sshpw-" + rnd(12) + "\"'$",
		WrongPassword:    "wrongpw-" + rnd(12),
		WrongToken:       "wrongtoken-" + rnd(16),
		WrongSSHKey:      wrong,
	}
}

// newSSHKey makes an ed25519 key: its signer and OpenSSH PEM.
func newSSHKey(t *testing.T) (ssh.Signer, []byte) {
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

// list names every secret for the scan.
func (c *creds) list() []secret {
	return []secret{
		{name: "registry password", value: c.RegistryPassword},
		{name: "AWS access key ID", value: c.AccessKey},
		{name: "AWS secret access key", value: c.SecretKey},
		{name: "AWS session token", value: c.SessionToken},
		{name: "SSH private key", value: string(c.SSHKey), common: c.SSHKeyCommon},
		{name: "SSH password", value: c.SSHPassword},
		{name: "wrong registry password", value: c.WrongPassword},
		{name: "wrong AWS session token", value: c.WrongToken},
		{name: "wrong SSH private key", value: string(c.WrongSSHKey), common: c.SSHKeyCommon},
		{name: "GCP credentials JSON", value: c.GCP.JSON},
		{name: "GCP service account private key", value: c.GCP.PrivateKey},
		{name: "GCP access token", value: c.GCP.AccessToken},
	}
}

// gate counts requests that carried the expected credentials and refuses
// the others, proving the front ends really used the injected secrets.
type gate struct {
	ok, refused atomic.Int64
	tokens      atomic.Int64 // access tokens issued (GCP)
}

// authRegistry serves an in-memory registry that demands basic auth with
// the run's password, holding the test derivative at ref (returned).
func authRegistry(t *testing.T, c *creds) (ref string, g *gate) {
	t.Helper()
	g = &gate{}
	inner := imagetest.RegistryHandler()
	host := imagetest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != registryUser || p != c.RegistryPassword {
			g.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="secrets-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		g.ok.Add(1)
		inner.ServeHTTP(w, r)
	}))
	ref = host + "/elemental/secrets:v1"
	img, err := imagetest.Image(imagetest.Derivative(2, "1.0.0")...)
	if err != nil {
		t.Fatal(err)
	}
	imagetest.Push(t, ref, img, remote.WithAuth(&authn.Basic{Username: registryUser, Password: c.RegistryPassword}))
	g.ok.Store(0)
	g.refused.Store(0)
	return ref, g
}

// awsGate serves the AWS emulator behind a check that every request is
// SigV4-signed with the run's access key and carries its session token.
func awsGate(t *testing.T, c *creds) (url string, emu *awsemu.Emulator, g *gate) {
	t.Helper()
	emu = awsemu.New(awsemu.Options{})
	g = &gate{}
	srv := imagetest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Authorization"), "Credential="+c.AccessKey+"/") ||
			r.Header.Get("X-Amz-Security-Token") != c.SessionToken {
			g.refused.Add(1)
			http.Error(w, "<Response><Errors><Error><Code>AuthFailure</Code><Message>wrong credentials</Message></Error></Errors></Response>", http.StatusForbidden)
			return
		}
		g.ok.Add(1)
		emu.ServeHTTP(w, r)
	}))
	return "http://" + srv, emu, g
}

// checkGate fails unless the gate let requests through and refused none
// (for AWS) or let some through (a registry pings without auth first).
func checkGate(t *testing.T, what string, g *gate, strict bool) {
	t.Helper()
	if g.ok.Load() == 0 {
		t.Errorf("%s saw no request with the injected credentials", what)
	}
	if strict && g.refused.Load() != 0 {
		t.Errorf("%s refused %d requests without the injected credentials", what, g.refused.Load())
	}
	t.Logf("%s: %d requests with the credentials, %d without, %d access tokens issued", what, g.ok.Load(), g.refused.Load(), g.tokens.Load())
}

// cleanEnv is the environment without cloud, Packer or Terraform settings
// of the person running the test, plus extra.
func cleanEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "GOOGLE_"), strings.HasPrefix(k, "PKR_VAR_"),
			strings.HasPrefix(k, "TF_"), strings.HasPrefix(k, "PACKER_"), strings.HasPrefix(k, "ELEMENTAL_"),
			k == "HOME", k == "TMPDIR", k == "SSH_AUTH_SOCK", k == "CHECKPOINT_DISABLE":
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// repoRoot is the module root, two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goBuild builds pkg (relative to the repository root) into out.
func goBuild(t *testing.T, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// mkdirs creates directories under dir and returns their paths.
func mkdirs(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
		if err := os.MkdirAll(out[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkNoLeak scans the run's directory tree and fails on any finding.
func checkNoLeak(t *testing.T, c *creds, dirs ...string) {
	t.Helper()
	ns := needles(c.list())
	files := 0
	for _, d := range dirs {
		var names []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error { //nolint:errcheck // only lists
			if info, ierr := e.Info(); err == nil && ierr == nil && e.Type().IsRegular() {
				files++
				rel, _ := filepath.Rel(d, p)
				names = append(names, fmt.Sprintf("%s (%d)", rel, info.Size()))
			}
			return nil
		})
		t.Logf("scanning %s: %s", d, strings.Join(names, ", "))
		found, err := scanTree(d, ns)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Errorf("secret leaked: %v", f)
		}
	}
	t.Logf("scanned %d files for %d secrets in %d forms", files, len(c.list()), len(ns))
}
