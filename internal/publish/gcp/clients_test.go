package gcp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// tokenServer is an OAuth token endpoint that hands out token and counts
// the requests.
func tokenServer(t *testing.T, token string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_ = r.ParseForm()
		if r.Method != http.MethodPost || r.PostForm.Get("assertion") == "" {
			http.Error(w, "want a JWT bearer grant", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// authRecorder is a compute endpoint that records the Authorization
// header of each request and answers 404.
func authRecorder(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":404,"message":"not found"}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// TestCredentialsReachRequests checks that the chosen credentials really
// sign the API requests: a service account whose token_uri is a local
// token endpoint, given as a file, as JSON, and through Application
// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS). The compute
// request must carry that endpoint's token, or a self-signed JWT from
// that service account.
func TestCredentialsReachRequests(t *testing.T) {
	const token = "token-from-the-service-account"
	tokens, grants := tokenServer(t, token)
	var sa map[string]string
	if err := json.Unmarshal(serviceAccountJSON(t), &sa); err != nil {
		t.Fatal(err)
	}
	sa["token_uri"] = tokens.URL
	data, err := json.Marshal(sa)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts gcp.ClientOptions
		adc  string // GOOGLE_APPLICATION_CREDENTIALS
	}{
		{name: "service account file", opts: gcp.ClientOptions{CredentialsFile: file}},
		{name: "service account JSON", opts: gcp.ClientOptions{CredentialsJSON: data}},
		{name: "application default credentials", adc: file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tc.adc)
			compute, seen := authRecorder(t)
			tc.opts.ComputeEndpoint = compute.URL
			c, err := gcp.NewClients(context.Background(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if ok, err := gcp.Exists(context.Background(), c, "p", "img"); err != nil || ok {
				t.Fatalf("Exists = %v, %v", ok, err)
			}
			got := seen()
			if len(got) == 0 || !signedBy(got[0], token, sa["client_email"]) {
				t.Fatalf("compute request Authorization %q: want %q or a JWT issued by %s", got, "Bearer "+token, sa["client_email"])
			}
			t.Logf("%d token grants so far; header %.40s...", grants.Load(), got[0])
		})
	}
}

// signedBy reports whether an Authorization header carries token or a
// self-signed JWT whose issuer is email.
func signedBy(header, token, email string) bool {
	bearer, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return false
	}
	if bearer == token {
		return true
	}
	parts := strings.Split(bearer, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	return json.Unmarshal(payload, &claims) == nil && claims.Iss == email
}
