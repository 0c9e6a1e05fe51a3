package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/elemental-suite/elemental/acctest/registry"
)

func TestPushPull(t *testing.T) {
	tests := []struct {
		name string
		opts func(t *testing.T) []registry.Option
	}{
		{name: "memory", opts: func(*testing.T) []registry.Option { return nil }},
		{name: "blob dir", opts: func(t *testing.T) []registry.Option {
			return []registry.Option{registry.WithBlobDir(t.TempDir())}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := registry.Start(t.Context(), "127.0.0.1:0", tt.opts(t)...)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if !strings.HasPrefix(r.Host(), "127.0.0.1:") {
				t.Errorf("Host() = %q, want 127.0.0.1:<port>", r.Host())
			}
			if want := "10.0.2.2:" + strings.TrimPrefix(r.Host(), "127.0.0.1:"); r.GuestHost() != want {
				t.Errorf("GuestHost() = %q, want %q", r.GuestHost(), want)
			}
			img, err := random.Image(4096, 3)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := name.ParseReference(r.Host()+"/derivative:v1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
				t.Fatalf("push: %v", err)
			}
			pulled, err := remote.Image(ref, remote.WithContext(t.Context()))
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			want, _ := img.Digest()
			got, err := pulled.Digest()
			if err != nil || got != want {
				t.Fatalf("pulled digest %v (%v), want %v", got, err, want)
			}
			layers, err := pulled.Layers()
			if err != nil || len(layers) != 3 {
				t.Fatalf("pulled %d layers (%v), want 3", len(layers), err)
			}
			rc, err := layers[2].Compressed()
			if err != nil {
				t.Fatalf("reading layer blob: %v", err)
			}
			rc.Close()
		})
	}
}

func TestStartRejectsNonLoopback(t *testing.T) {
	tests := []struct{ name, addr string }{
		{name: "all interfaces", addr: ":5000"},
		{name: "unspecified", addr: "0.0.0.0:5000"},
		{name: "private", addr: "10.0.2.2:5000"},
		{name: "no port", addr: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := registry.Start(t.Context(), tt.addr); err == nil {
				r.Close()
				t.Fatalf("Start(%q) succeeded", tt.addr)
			}
		})
	}
}

func TestCloseAndContextStopServing(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r, err := registry.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/v2/", r.Host())
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ = %d", resp.StatusCode)
	}
	cancel()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("registry still serving after cancel and Close")
	}
}
