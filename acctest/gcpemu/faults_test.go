package gcpemu_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
)

// TestLostChunkAnswers loses the answer to half of the chunks after they
// were stored: the client resends them and the object must still be the
// data exactly once (duplicates dropped, the final answer replayed).
func TestLostChunkAnswers(t *testing.T) {
	tests := []struct {
		name string
		kind gcpemu.FaultKind
	}{
		{name: "lost answers", kind: gcpemu.FaultLost},
		{name: "resets", kind: gcpemu.FaultReset},
		{name: "503", kind: gcpemu.FaultUnavailable},
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 80000) // 1.28 MB
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, _ := start(t, gcpemu.Options{Seed: 7, Faults: map[string]gcpemu.Fault{
				gcpemu.OpUploadChunk: {Rate: 0.5, Kinds: []gcpemu.FaultKind{tc.kind}},
			}})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			client, err := storage.NewClient(ctx, option.WithEndpoint(emu.StorageEndpoint()), option.WithoutAuthentication())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			obj := client.Bucket(bucket).Object("o").Retryer(storage.WithPolicy(storage.RetryAlways),
				storage.WithBackoff(gax.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond}))
			w := obj.NewWriter(ctx)
			w.ChunkSize = 256 << 10
			_, werr := w.Write(data)
			if err := errors.Join(werr, w.Close()); err != nil {
				t.Fatalf("upload: %v", err)
			}
			got, err := emu.Object(bucket, "o")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("object is %d bytes (err %v), want the %d sent", len(got), err, len(data))
			}
			if emu.FaultCounts()[gcpemu.OpUploadChunk+"/"+tc.kind.String()] == 0 {
				t.Fatal("no fault injected")
			}
		})
	}
}

// TestFaultsDeterministic: the same seed and requests give the same faults.
func TestFaultsDeterministic(t *testing.T) {
	run := func() map[string]int {
		emu, svc := start(t, gcpemu.Options{Seed: 42, Faults: map[string]gcpemu.Fault{
			gcpemu.OpImagesGet: {Rate: 0.5, Kinds: []gcpemu.FaultKind{gcpemu.FaultInternal, gcpemu.FaultThrottle}},
		}})
		for range 20 {
			_, _ = svc.Images.Get(project, "x").Do()
		}
		return emu.FaultCounts()
	}
	a, b := run(), run()
	if diff := cmp.Diff(a, b); diff != "" || len(a) == 0 {
		t.Errorf("fault counts differ between runs with one seed (or none): %v", diff)
	}
}

func TestParseFaultKind(t *testing.T) {
	for _, k := range []gcpemu.FaultKind{gcpemu.FaultInternal, gcpemu.FaultUnavailable, gcpemu.FaultThrottle,
		gcpemu.FaultReset, gcpemu.FaultSlow, gcpemu.FaultForbidden, gcpemu.FaultLost} {
		got, ok := gcpemu.ParseFaultKind(k.String())
		if !ok || got != k {
			t.Errorf("ParseFaultKind(%q) = %v, %v", k, got, ok)
		}
	}
	if _, ok := gcpemu.ParseFaultKind("unknown"); ok {
		t.Error("ParseFaultKind accepted unknown")
	}
}

func TestEnv(t *testing.T) {
	emu, _ := start(t, gcpemu.Options{})
	env := strings.Join(emu.Env(), "\n")
	if !strings.Contains(env, "STORAGE_EMULATOR_HOST="+emu.Host()) || !strings.Contains(env, gcpemu.EnvComputeEndpoint+"="+emu.URL()+"/compute/v1/") {
		t.Errorf("Env() = %s", env)
	}
}

// TestFaultKindsOnTheWire sends plain HTTP requests with each fault kind
// injected into every images.get and checks what the client sees: the
// status code, a broken connection, or a late answer; a lost images.insert
// still creates the image. Other operations stay unaffected.
func TestFaultKindsOnTheWire(t *testing.T) {
	const delay = 400 * time.Millisecond
	tests := []struct {
		kind       gcpemu.FaultKind
		wantStatus int // 0: the connection breaks
		slow       bool
	}{
		{kind: gcpemu.FaultInternal, wantStatus: http.StatusInternalServerError},
		{kind: gcpemu.FaultUnavailable, wantStatus: http.StatusServiceUnavailable},
		{kind: gcpemu.FaultThrottle, wantStatus: http.StatusTooManyRequests},
		{kind: gcpemu.FaultForbidden, wantStatus: http.StatusForbidden},
		{kind: gcpemu.FaultReset},
		{kind: gcpemu.FaultLost},
		{kind: gcpemu.FaultSlow, wantStatus: http.StatusNotFound, slow: true},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			fault := gcpemu.Fault{Rate: 1, Kinds: []gcpemu.FaultKind{tc.kind}, Delay: delay}
			emu, _ := start(t, gcpemu.Options{Faults: map[string]gcpemu.Fault{gcpemu.OpImagesGet: fault}})
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			began := time.Now()
			resp, err := client.Get(emu.ComputeEndpoint() + "projects/p/global/images/none")
			took := time.Since(began)
			status := 0
			if err == nil {
				status = resp.StatusCode
				_ = resp.Body.Close()
			}
			if status != tc.wantStatus || (tc.wantStatus == 0) != (err != nil) {
				t.Errorf("images.get with %s: status %d, err %v; want status %d", tc.kind, status, err, tc.wantStatus)
			}
			if tc.slow != (took >= delay) {
				t.Errorf("images.get with %s answered after %v (slow delay %v)", tc.kind, took, delay)
			}
			resp, err = client.Get(emu.ComputeEndpoint() + "projects/p/global/images")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("images.list, which has no fault: %v, %v", resp, err)
			} else {
				_ = resp.Body.Close()
			}
		})
	}
	t.Run("lost insert takes effect", func(t *testing.T) {
		lost := gcpemu.Fault{Rate: 1, Kinds: []gcpemu.FaultKind{gcpemu.FaultLost}}
		emu, svc := start(t, gcpemu.Options{Faults: map[string]gcpemu.Fault{gcpemu.OpImagesInsert: lost}})
		emu.PutObject(bucket, "good.tar.gz", goodArchive(t))
		if _, err := svc.Images.Insert(project, image("lost", "good.tar.gz")).Do(); err == nil {
			t.Fatal("a lost answer reached the client")
		}
		if imgs := emu.Images(project); len(imgs) != 1 || imgs[0].Name != "lost" {
			t.Errorf("images after a lost insert: %v, want the image", imgs)
		}
	})
}

// TestFaultRate: a rate of 0.3 fails about 30% of an operation's requests.
func TestFaultRate(t *testing.T) {
	emu, _ := start(t, gcpemu.Options{Seed: 3, Faults: map[string]gcpemu.Fault{
		gcpemu.OpImagesGet: {Rate: 0.3, Kinds: []gcpemu.FaultKind{gcpemu.FaultUnavailable}},
	}})
	client := &http.Client{}
	failed := 0
	const n = 400
	for range n {
		resp, err := client.Get(emu.ComputeEndpoint() + "projects/p/global/images/none")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			failed++
		}
		_ = resp.Body.Close()
	}
	if failed < n*20/100 || failed > n*40/100 || emu.FaultCounts()[gcpemu.OpImagesGet+"/503"] != failed {
		t.Errorf("%d of %d requests failed (counted %v), want about 30%%", failed, n, emu.FaultCounts())
	}
}
