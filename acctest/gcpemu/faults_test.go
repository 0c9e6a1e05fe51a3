package gcpemu_test

import (
	"bytes"
	"context"
	"errors"
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
