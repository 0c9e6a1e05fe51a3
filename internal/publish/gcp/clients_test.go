package gcp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

// TestStorageEmulatorHost points the storage client at the emulator the
// standard way, STORAGE_EMULATOR_HOST, and only the compute endpoint by
// option.
func TestStorageEmulatorHost(t *testing.T) {
	emu, err := gcpemu.Start(gcpemu.Options{Buckets: []string{testBucket}, OpDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", emu.Host())
	c, err := gcp.NewClients(context.Background(), gcp.ClientOptions{ComputeEndpoint: emu.ComputeEndpoint(), WithoutAuthentication: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := writeRawDisk(t, 64*mib, []extent{{0, mib}}, 9)
	res, err := gcp.Publish(context.Background(), c, raw, baseSpec("via-env"), nil)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if _, archive, err := emu.Image(testProject, "via-env"); err != nil || archive.DiskDigest != paddedDigest(t, raw) {
		t.Errorf("image %s: %v, digest %s", res.SelfLink, err, archive.DiskDigest)
	}
}

// serviceAccountJSON makes a credentials file with a fresh key; building
// clients from it needs no network.
func serviceAccountJSON(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "publisher@p.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestNewClientsCredentials(t *testing.T) {
	sa := serviceAccountJSON(t)
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    gcp.ClientOptions
		wantErr bool
	}{
		{name: "service account file", opts: gcp.ClientOptions{CredentialsFile: file}},
		{name: "service account JSON", opts: gcp.ClientOptions{CredentialsJSON: sa}},
		{name: "impersonation from a service account", opts: gcp.ClientOptions{CredentialsJSON: sa, ImpersonateServiceAccount: "target@p.iam.gserviceaccount.com"}},
		{name: "file and JSON", opts: gcp.ClientOptions{CredentialsFile: file, CredentialsJSON: sa}, wantErr: true},
		{name: "missing file", opts: gcp.ClientOptions{CredentialsFile: file + ".none"}, wantErr: true},
		{name: "unsupported type", opts: gcp.ClientOptions{CredentialsJSON: []byte(`{"type":"api_key"}`)}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gcp.NewClients(context.Background(), tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewClients: %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				if c.Storage == nil || c.Compute == nil {
					t.Error("missing client")
				}
				_ = c.Close()
			}
		})
	}
}
