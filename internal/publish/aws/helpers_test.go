package aws_test

import (
	"bytes"
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
	"github.com/aws/aws-sdk-go-v2/service/ebs"
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

// readSnapshot reads a snapshot back through the EBS direct API
// (ListSnapshotBlocks + GetSnapshotBlock): its blocks by index, and its
// volume size in bytes. Blocks at or past upTo (if > 0) are listed but
// not fetched.
func readSnapshot(t testing.TB, cfg aws.Config, region, id string, upTo int64) snapshotData {
	t.Helper()
	ctx := context.Background()
	c := ebs.NewFromConfig(cfg, func(o *ebs.Options) { o.Region = region })
	out := snapshotData{blocks: map[int64][]byte{}}
	var token *string
	for {
		page, err := c.ListSnapshotBlocks(ctx, &ebs.ListSnapshotBlocksInput{SnapshotId: &id, NextToken: token, MaxResults: aws.Int32(1000)})
		if err != nil {
			t.Fatalf("ListSnapshotBlocks %s: %v", id, err)
		}
		out.size = aws.ToInt64(page.VolumeSize) << 30
		for _, b := range page.Blocks {
			if upTo > 0 && int64(*b.BlockIndex)*awsemu.BlockSize >= upTo {
				out.unread++
				continue
			}
			g, err := c.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{SnapshotId: &id, BlockIndex: b.BlockIndex, BlockToken: b.BlockToken})
			if err != nil {
				t.Fatalf("GetSnapshotBlock %s/%d: %v", id, *b.BlockIndex, err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(g.BlockData); err != nil {
				t.Fatal(err)
			}
			g.BlockData.Close()
			out.blocks[int64(*b.BlockIndex)] = buf.Bytes()
		}
		if page.NextToken == nil {
			return out
		}
		token = page.NextToken
	}
}

// snapshotData is a snapshot read back: absent blocks read as zeros.
type snapshotData struct {
	size   int64
	blocks map[int64][]byte
	unread int // listed blocks not fetched
}

// checkVolume compares a read-back snapshot with the disk: the disk's
// bytes match block by block and everything past the disk is zero.
func checkVolume(t testing.TB, snap snapshotData, disk []byte) {
	t.Helper()
	if snap.size < int64(len(disk)) {
		t.Fatalf("volume has %d bytes, disk %d", snap.size, len(disk))
	}
	zero := make([]byte, awsemu.BlockSize)
	for i := int64(0); i*awsemu.BlockSize < int64(len(disk)); i++ {
		want := disk[i*awsemu.BlockSize : min(int64(len(disk)), (i+1)*awsemu.BlockSize)]
		got, ok := snap.blocks[i]
		if !ok {
			got = zero
		}
		if len(got) != awsemu.BlockSize || !bytes.Equal(got[:len(want)], want) || !bytes.Equal(got[len(want):], zero[len(want):]) {
			t.Fatalf("volume differs from disk in block %d (present %v)", i, ok)
		}
	}
	for i, b := range snap.blocks {
		if i*awsemu.BlockSize >= int64(len(disk)) && !bytes.Equal(b, zero) {
			t.Fatalf("volume holds data past the end of the disk, in block %d", i)
		}
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
