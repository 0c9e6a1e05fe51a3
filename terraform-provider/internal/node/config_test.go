package node_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/elemental-suite/elemental/terraform-provider/internal/node"
	"github.com/elemental-suite/elemental/terraform-provider/internal/node/nodetest"
)

func newKey(t *testing.T) (ssh.Signer, []byte) { return nodetest.NewKey(t) }

func TestConfigValidate(t *testing.T) {
	hostSigner, key := newKey(t)
	hostKey := string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))
	tests := []struct {
		name    string
		cfg     node.Config
		wantErr error
		wantMsg string
	}{
		{name: "host key pinned", cfg: node.Config{Host: "n1", PrivateKey: key, HostKey: hostKey}},
		{name: "known_hosts line as host key", cfg: node.Config{Host: "n1", Password: "pw", HostKey: "n1 " + hostKey}},
		{name: "known hosts file", cfg: node.Config{Host: "n1", Password: "pw", KnownHostsFile: "/dev/null"}},
		{name: "explicit opt-out", cfg: node.Config{Host: "n1", Password: "pw", InsecureIgnoreHostKey: true}},
		{name: "no host key refused", cfg: node.Config{Host: "n1", PrivateKey: key}, wantErr: node.ErrNoHostKey},
		{name: "bad host key", cfg: node.Config{Host: "n1", Password: "pw", HostKey: "ssh-ed25519 not-base64"}, wantErr: node.ErrInvalidHostKey},
		{name: "no auth", cfg: node.Config{Host: "n1", HostKey: hostKey}, wantErr: node.ErrNoAuth},
		{name: "no host", cfg: node.Config{Password: "pw", HostKey: hostKey}, wantMsg: "host: required"},
		{name: "bastion without host key", cfg: node.Config{Host: "n1", Password: "pw", HostKey: hostKey,
			Bastion: &node.Config{Host: "b", Password: "pw"}}, wantErr: node.ErrNoHostKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, closeFn, err := tt.cfg.ClientConfig(); err != nil {
					t.Fatalf("ClientConfig: %v", err)
				} else {
					closeFn()
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted the config")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if _, _, cerr := tt.cfg.ClientConfig(); cerr == nil {
				t.Error("ClientConfig built a config Validate refuses")
			}
		})
	}
}

func TestClientConfigRefusesEncryptedKey(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{Host: "n1", PrivateKey: pem.EncodeToMemory(block), InsecureIgnoreHostKey: true}
	if _, _, err := cfg.ClientConfig(); !errors.Is(err, node.ErrKeyPassphrase) {
		t.Fatalf("got %v, want ErrKeyPassphrase", err)
	}
}

func TestHostKeyCallbackPinned(t *testing.T) {
	good, key := newKey(t)
	bad, _ := newKey(t)
	cfg := node.Config{Host: "n1", PrivateKey: key, HostKey: string(ssh.MarshalAuthorizedKey(good.PublicKey()))}
	cc, closeFn, err := cfg.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if err := cc.HostKeyCallback("n1:22", nil, good.PublicKey()); err != nil {
		t.Errorf("pinned key refused: %v", err)
	}
	err = cc.HostKeyCallback("n1:22", nil, bad.PublicKey())
	var he *node.HostKeyError
	if !errors.As(err, &he) || !errors.Is(err, node.ErrHostKey) || he.Want == "" {
		t.Fatalf("changed key: got %v, want a HostKeyError with Want", err)
	}
	if cc.HostKeyAlgorithms[0] != ssh.KeyAlgoED25519 {
		t.Errorf("host key algorithms %v, want ed25519 first", cc.HostKeyAlgorithms)
	}
}
