package oci_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/google/go-cmp/cmp"
)

// cancelSink cancels after n entries, or on the first data write when
// n < 0.
type cancelSink struct {
	n      int
	cancel context.CancelFunc
	seen   int
}

func (s *cancelSink) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	s.seen++
	if s.n >= 0 && s.seen == s.n {
		s.cancel()
	}
	if e.Type != rootfs.TypeReg {
		return nil, nil
	}
	return s, nil
}

func (s *cancelSink) Write(p []byte) (int, error) {
	if s.n < 0 && len(p) > 0 {
		s.cancel()
	}
	return len(p), nil
}

func (s *cancelSink) Close() error { return nil }

func TestWalkCancel(t *testing.T) {
	layers := append(imagetest.Derivative(2, "1.0"), imagetest.Torture("usr/bin/elemental"))
	ref := layoutRef(t, mustImage(t, layers...))
	tests := []struct {
		name       string
		n          int
		wantAtMost int
	}{
		{name: "between entries", n: 3, wantAtMost: 3},
		{name: "during file data", n: -1, wantAtMost: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src, err := oci.Open(ctx, ref, oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			sink := &cancelSink{n: tc.n, cancel: cancel}
			err = src.Walk(ctx, sink)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if sink.seen > tc.wantAtMost {
				t.Errorf("%d entries delivered after cancel, want at most %d", sink.seen, tc.wantAtMost)
			}
		})
	}
}

func TestWalkSinkError(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		sink    rootfs.Sink
		wantErr string
	}{
		{name: "add fails", wantErr: `adding "etc/os-release": boom`, sink: rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) {
			if e.Path == "etc/os-release" {
				return nil, boom
			}
			return nil, nil
		})},
		{name: "write fails", wantErr: `copying data of "usr/bin/elemental": boom`, sink: rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) {
			if e.Path == "usr/bin/elemental" {
				return failWriter{write: boom}, nil
			}
			return nil, nil
		})},
		{name: "close fails", wantErr: `closing "boot/initrd-6.1.0-test": boom`, sink: rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) {
			if e.Path == "boot/initrd-6.1.0-test" {
				return failWriter{close: boom}, nil
			}
			return nil, nil
		})},
	}
	ref := layoutRef(t, mustImage(t, imagetest.Derivative(2, "1.0")...))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := oci.Open(context.Background(), ref, oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = src.Walk(context.Background(), tc.sink)
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q wrapping boom", err, tc.wantErr)
			}
		})
	}
}

type failWriter struct{ write, close error }

func (w failWriter) Write(p []byte) (int, error) {
	if w.write != nil {
		return 0, w.write
	}
	return len(p), nil
}

func (w failWriter) Close() error { return w.close }

func TestWalkProgress(t *testing.T) {
	big := imagetest.Layer{{Path: "big", Type: rootfs.TypeReg, Data: randomBytes(3 << 20)}}
	layers := append(imagetest.Derivative(2, "1.0"), big)
	var events []oci.Progress
	opts := oci.Options{Progress: func(p oci.Progress) { events = append(events, p) }}
	src, _, err := walk(t, layoutRef(t, mustImage(t, layers...)), opts)
	if err != nil {
		t.Fatal(err)
	}
	final := map[int]oci.Progress{}
	perLayer := map[int]int{}
	for _, ev := range events {
		final[ev.Layer] = ev
		perLayer[ev.Layer]++
		if ev.Layers != 4 {
			t.Errorf("event %+v: Layers != 4", ev)
		}
	}
	for i, l := range src.Layers() {
		want := oci.Progress{Layer: i, Layers: 4, Digest: l.Digest, Complete: l.Size, Total: l.Size}
		if diff := cmp.Diff(want, final[i]); diff != "" {
			t.Errorf("layer %d final event (-want +got):\n%s", i, diff)
		}
	}
	if perLayer[3] < 3 {
		t.Errorf("a 3 MiB layer got %d progress events, want one per MiB", perLayer[3])
	}
}

// randomBytes returns n incompressible, deterministic bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}
