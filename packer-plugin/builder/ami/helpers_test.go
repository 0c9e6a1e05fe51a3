package ami_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/installer/installertest"
)

// derivative writes the v2 test derivative as an OCI layout and returns
// its reference.
func derivative(t *testing.T) string {
	t.Helper()
	return imagetest.WriteLayoutRef(t, imagetest.Derivative(2, "1.2.3")...)
}

// reference is a disk built locally with installer.Run.
type reference struct {
	res  *installer.Result
	disk []byte
}

// referenceDisk builds src with the options the builder tests give the
// builder, into a raw file it reads back.
func referenceDisk(t *testing.T, src string) *reference {
	t.Helper()
	res, path := installertest.Reference(t, installer.Spec{Source: src, SourceDateEpoch: epoch, Name: "reference",
		Formats: []diskformat.Format{diskformat.Raw}, Sizes: installer.Sizes{Recovery: 64 << 20, State: 64 << 20}})
	disk, err := os.ReadFile(path) // small partitions: a few hundred MiB at most
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	return &reference{res: res, disk: disk}
}

// emulator serves an AWS emulator (with bucket bkt) that the SDK reaches
// through the AWS_* environment, through an awsemu.PutWatch on dir: before
// every PUT (an EBS block, an S3 part) it looks for raw disks under dir.
// It returns the emulator, its address and the watch.
func emulator(t *testing.T, dir string) (*awsemu.Emulator, string, *awsemu.PutWatch) {
	t.Helper()
	emu := awsemu.New(awsemu.Options{Delay: 10 * time.Millisecond})
	emu.CreateBucket("bkt")
	watch := awsemu.WatchPuts(emu, dir)
	srv := httptest.NewServer(watch)
	t.Cleanup(srv.Close)
	for _, kv := range awsemu.Env(srv.URL) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return emu, srv.URL, watch
}

// syncBuffer is the UI's output, written by several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
