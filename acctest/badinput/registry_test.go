package badinput_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/oci"
)

// statusHandler answers every request but the version check with code.
func statusHandler(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="badinput"`)
		} else if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"errors":[{"code":"%s","message":"injected %d"}]}`, codeName(code), code)
	})
}

func codeName(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "DENIED"
	case http.StatusNotFound:
		return "MANIFEST_UNKNOWN"
	}
	return "UNKNOWN"
}

// alteringHandler serves the registry but flips the gzip MTIME byte of
// every layer blob in layers, so the blob decodes but its digest differs.
func alteringHandler(next http.Handler, layers map[string]bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := strings.LastIndex(r.URL.Path, "/blobs/")
		if r.Method != http.MethodGet || i < 0 || !layers[r.URL.Path[i+len("/blobs/"):]] {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		if len(b) > 4 {
			b[4] ^= 0x01
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(b)
	})
}

func layerDigests(t *testing.T, img v1.Image) map[string]bool {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		m[d.String()] = true
	}
	return m
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestRegistryFaults covers registries that refuse, lack or corrupt the
// image. Every case must fail with the registry's answer in the message.
func TestRegistryFaults(t *testing.T) {
	img := image(t, imagetest.Derivative(2, "A")...)
	cases := []struct {
		name  string
		host  func(t *testing.T) string
		creds bool
		want  []string
		is    error
	}{
		{name: "unreachable", host: closedPort, want: []string{"fetching manifest", "connection refused"}},
		{name: "401 unauthorized", host: func(t *testing.T) string { return imagetest.Serve(t, statusHandler(401)) }, creds: true,
			want: []string{"fetching manifest", "manifests/v1: UNAUTHORIZED: injected 401"}},
		{name: "403 denied", host: func(t *testing.T) string { return imagetest.Serve(t, statusHandler(403)) },
			want: []string{"fetching manifest", "DENIED: injected 403"}},
		{name: "404 no such image", host: func(t *testing.T) string { return imagetest.Registry(t) },
			want: []string{"fetching manifest", "manifests/v1: NAME_UNKNOWN: Unknown name"}},
		{name: "500 server error", host: func(t *testing.T) string { return imagetest.Serve(t, statusHandler(500)) },
			want: []string{"fetching manifest", "manifests/v1: UNKNOWN: injected 500"}},
		{name: "layer with altered bytes", host: func(t *testing.T) string {
			host := imagetest.Serve(t, alteringHandler(imagetest.RegistryHandler(), layerDigests(t, img)))
			imagetest.Push(t, host+"/elemental/os:v1", img)
			return host
			// go-containerregistry's own verifier fires first; the core maps
			// its error to oci.ErrDigestMismatch and keeps both digests.
		}, want: []string{"error verifying sha256 checksum", `want "sha256:`, "digest mismatch"}, is: oci.ErrDigestMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := installer.Spec{Source: c.host(t) + "/elemental/os:v1", Insecure: true}
			if c.creds {
				spec.Username, spec.Password = "user", "wrong-secret-8c1f"
			}
			err := runFailing(t, spec, c.want)
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if c.creds && bytes.Contains([]byte(err.Error()), []byte(spec.Password)) {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}
