package aws_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

const mib = int64(1) << 20

// newEmulator serves an emulator for the test and returns an aws.Config
// pointing every service at it, with a fast retryer.
func newEmulator(t testing.TB, opts awsemu.Options) (*awsemu.Emulator, aws.Config) {
	t.Helper()
	if opts.Delay == 0 {
		opts.Delay = 20 * time.Millisecond
	}
	emu := awsemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIATEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return publish.NewRetryer(10, 20*time.Millisecond) },
	}
	return emu, cfg
}

// chunk is a run of random data written into a test disk.
type chunk struct{ off, len int64 }

// defaultChunks: data at the start (GPT), an unaligned piece, a block of
// explicit zeros (allocated but skipped), data in the middle and at the end.
func defaultChunks(size int64) []chunk {
	return []chunk{{0, 1 * mib}, {3*mib + 4096, 300 << 10}, {size/2 - 2*mib, 2 * mib}, {size - 1*mib, 1 * mib}}
}

// makeDisk writes a sparse raw disk of size bytes holding random data in
// chunks and returns its path and contents.
func makeDisk(t testing.TB, size int64, chunks []chunk, seed uint64) (string, []byte) {
	t.Helper()
	path := makeSparse(t, size, chunks, seed)
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, want
}

// makeSparse writes the disk of makeDisk without keeping its contents.
func makeSparse(t testing.TB, size int64, chunks []chunk, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 42))
	for _, c := range chunks {
		buf := make([]byte, c.len+8)
		for i := 0; i < len(buf)-8; i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
		}
		if _, err := f.WriteAt(buf[:c.len], c.off); err != nil {
			t.Fatal(err)
		}
	}
	// Allocated zeros: read back as zeros, never uploaded unencrypted.
	if _, err := f.WriteAt(make([]byte, awsemu.BlockSize), 8*mib); err != nil {
		t.Fatal(err)
	}
	return path
}

// allocated is the number of data bytes the file system holds for path.
func allocated(t testing.TB, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exts, err := diskformat.Extents(f)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range exts {
		if e.Data {
			n += e.Length
		}
	}
	return n
}

// readSnapshot reads a snapshot back through the EBS direct API with
// awsemu.ReadSnapshotUpTo: blocks at or past upTo (if > 0) are listed but
// not fetched.
func readSnapshot(t testing.TB, cfg aws.Config, region, id string, upTo int64) *awsemu.SnapshotData {
	t.Helper()
	snap, err := awsemu.ReadSnapshotUpTo(context.Background(), cfg, region, id, upTo)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// checkVolume fails unless the read-back snapshot is the disk, byte for
// byte (see awsemu.SnapshotData.Compare).
func checkVolume(t testing.TB, snap *awsemu.SnapshotData, disk []byte) {
	t.Helper()
	if err := snap.Compare(disk); err != nil {
		t.Fatal(err)
	}
}

// ec2c is an EC2 client of region.
func ec2c(cfg aws.Config, region string) *ec2.Client {
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.Region = region })
}

// mustEmpty fails unless the emulator holds nothing.
func mustEmpty(t testing.TB, emu *awsemu.Emulator) {
	t.Helper()
	if res := emu.Resources(); !res.Empty() {
		t.Fatalf("emulator still holds resources: %+v", res)
	}
}
