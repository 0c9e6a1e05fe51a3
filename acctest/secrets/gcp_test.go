package secrets

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// gcpProject and gcpBucket are where the GCE image is published.
const (
	gcpProject = "secrets-test"
	gcpBucket  = "images"
)

// gcpCreds is a service account key whose token_uri is the gate's, and
// the access token the gate hands out for it.
type gcpCreds struct {
	JSON        string // the credentials file
	PrivateKey  string // PEM, inside JSON
	AccessToken string
	keyID       string
	pub         *rsa.PublicKey
}

// newGCPCreds makes a fresh service account key for a gate at gateURL.
func newGCPCreds(t *testing.T, gateURL string) *gcpCreds {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 20)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	g := &gcpCreds{PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		keyID: hex.EncodeToString(id), pub: &key.PublicKey, AccessToken: "ya29.secrets-" + hex.EncodeToString(id[:16])}
	data, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": gcpProject, "private_key_id": g.keyID,
		"private_key": g.PrivateKey, "client_email": "publisher@" + gcpProject + ".iam.gserviceaccount.com",
		"client_id": "1", "token_uri": gateURL + "/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	g.JSON = string(data)
	return g
}

// verifyJWT reports whether tok is an RS256 JWT signed by g's key.
func (g *gcpCreds) verifyJWT(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	head, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	sig, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	var h struct {
		Alg, Kid string
	}
	if err1 != nil || err2 != nil || json.Unmarshal(head, &h) != nil || h.Alg != "RS256" || h.Kid != g.keyID {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(g.pub, crypto.SHA256, sum[:], sig) == nil
}

// gcpGate serves the GCP emulator behind a check that every request
// carries the access token issued for the service account key, or a JWT
// signed by it; /token issues the access token for a signed assertion.
func gcpGate(t *testing.T) (gateURL string, g *gcpCreds, emu *gcpemu.Emulator, counts *gate) {
	t.Helper()
	emu, err := gcpemu.Start(gcpemu.Options{Buckets: []string{gcpBucket}, OpDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	target, err := url.Parse(emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	counts = &gate{}
	var creds *gcpCreds
	host := imagetest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if r.ParseForm() != nil || !creds.verifyJWT(r.PostForm.Get("assertion")) {
				counts.refused.Add(1)
				http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
				return
			}
			counts.tokens.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": creds.AccessToken, "token_type": "Bearer", "expires_in": 3600})
			return
		}
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if bearer != creds.AccessToken && !creds.verifyJWT(bearer) {
			counts.refused.Add(1)
			http.Error(w, `{"error":{"code":401,"message":"wrong credentials"}}`, http.StatusUnauthorized)
			return
		}
		counts.ok.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	gateURL = "http://" + host
	creds = newGCPCreds(t, gateURL)
	return gateURL, creds, emu, counts
}
