package faultproxy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/elemental-suite/elemental/acctest/faultproxy"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// clearSigns are the causes a failed build through the proxy may give;
// anything else is not a clear error.
var clearSigns = []string{
	"unexpected EOF", "connection reset by peer", "digest mismatch", "error verifying sha256 checksum",
	"faultproxy: injected", "UNAVAILABLE", "does not match expected size", "EOF",
}

// TestInstallerThroughFaultyRegistry builds one derivative through the
// proxy at 0%, 5% and 30% faults. Every run must either succeed with a raw
// disk byte-identical to the fault-free one or fail with a clear error
// naming the source, leaving the output directory and TMPDIR as they were;
// the registry password must appear in no error and on no disk.
// Runs at one rate share the proxy and its seeded fault sequence, four at
// a time. FAULTPROXY_RUNS sets the runs per rate (default 4, 2 with -short).
func TestInstallerThroughFaultyRegistry(t *testing.T) {
	runs := 4
	if testing.Short() {
		runs = 2
	}
	if v, err := strconv.Atoi(os.Getenv("FAULTPROXY_RUNS")); err == nil && v > 0 {
		runs = v
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	img, err := imagetest.Image(append(imagetest.Derivative(2, "A"),
		imagetest.Layer{{Path: "srv/noise", Type: rootfs.TypeReg, Data: noise(3 << 20)}})...)
	if err != nil {
		t.Fatal(err)
	}
	backend := imagetest.Registry(t)
	imagetest.Push(t, backend+"/elemental/os:v1", img)
	p, err := faultproxy.New(backend, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src := p.Addr() + "/elemental/os:v1"

	want, err := build(t, src)
	if err != nil {
		t.Fatalf("fault-free build: %v", err)
	}
	for _, rate := range []float64{0.05, 0.30} {
		seed := uint64(rate * 1000)
		p.Configure(faultproxy.Config{Rate: rate, Seed: seed})
		sums, errs := buildAll(t, src, runs)
		var ok, failed int
		for i := range runs {
			switch {
			case errs[i] == nil && sums[i] != want:
				t.Errorf("rate %.2f run %d: disk sha256 %s, fault-free %s", rate, i, sums[i], want)
			case errs[i] == nil:
				ok++
			default:
				failed++
				checkClear(t, errs[i], src)
			}
		}
		s := p.Stats()
		t.Logf("rate %2.0f%% (seed %d): %d runs, %d byte-identical disks, %d clear failures; %d requests, faults %s",
			rate*100, seed, runs, ok, failed, s.Requests, faultList(s.Faults))
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 1 { // t.TempDir's own directory
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("TMPDIR holds %v after the runs", names)
	}
}

// buildAll runs n builds, at most four at a time, and returns their disk
// digests and errors by run.
func buildAll(t *testing.T, src string, n int) ([]string, []error) {
	sums, errs := make([]string, n), make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sums[i], errs[i] = build(t, src)
		}()
	}
	wg.Wait()
	return sums, errs
}

// build runs the installer into a fresh directory and returns the raw
// disk's sha256; on failure it checks that the directory is empty. It is
// safe for concurrent use (no t.Fatal).
func build(t *testing.T, src string) (string, error) {
	t.Helper()
	out, err := os.MkdirTemp(t.TempDir(), "out-")
	if err != nil {
		t.Error(err)
		return "", err
	}
	defer os.RemoveAll(out)
	_, err = installer.Run(context.Background(), installer.Spec{Source: src, Insecure: true, OutputDir: out,
		SourceDateEpoch: imagetest.Epoch, Username: "fault", Password: password})
	if err != nil {
		if ents, _ := os.ReadDir(out); len(ents) > 0 {
			t.Errorf("failed run left %s in the output directory (%v)", ents[0].Name(), err)
		}
		return "", err
	}
	f, err := os.Open(filepath.Join(out, "elemental.raw"))
	if err != nil {
		t.Errorf("Run succeeded without a raw disk: %v", err)
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	leak := &secretScan{secret: []byte(password)}
	if _, err := io.Copy(io.MultiWriter(h, leak), f); err != nil {
		t.Errorf("reading the disk: %v", err)
		return "", err
	}
	if leak.found {
		t.Errorf("the registry password is written on the disk")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// password is the registry password of every build; it must appear in no
// error and nowhere on the disk.
const password = "proxy-secret-5e2a"

// secretScan looks for secret in what is written through it, across
// write boundaries.
type secretScan struct {
	secret []byte
	tail   []byte
	found  bool
}

func (s *secretScan) Write(p []byte) (int, error) {
	buf := append(s.tail, p...)
	if bytes.Contains(buf, s.secret) {
		s.found = true
	}
	s.tail = append(s.tail[:0], buf[max(0, len(buf)-len(s.secret)+1):]...)
	return len(p), nil
}

func checkClear(t *testing.T, err error, src string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, src) {
		t.Errorf("error does not name the source %s: %v", src, err)
	}
	if strings.Contains(msg, password) {
		t.Errorf("error reveals the password: %v", err)
	}
	for _, s := range clearSigns {
		if strings.Contains(msg, s) {
			return
		}
	}
	t.Errorf("error gives no recognised cause: %v", err)
}

func faultList(m map[faultproxy.Fault]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// noise returns n incompressible, deterministic bytes.
func noise(n int) []byte {
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

func TestSecretScan(t *testing.T) {
	for _, split := range []int{0, 3, len(password) - 1, len(password)} {
		s := &secretScan{secret: []byte(password)}
		data := []byte("xx" + password + "yy")
		s.Write(data[:split+2])
		s.Write(data[split+2:])
		if !s.found {
			t.Errorf("secret split at %d not found", split)
		}
	}
	s := &secretScan{secret: []byte(password)}
	s.Write([]byte(password[:5]))
	s.Write([]byte("-" + password[5:]))
	if s.found {
		t.Error("found a secret that is not there")
	}
}
