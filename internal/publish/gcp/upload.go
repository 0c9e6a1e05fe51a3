package gcp

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"cloud.google.com/go/storage"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

const (
	gib           = int64(1) << 30
	progressEvery = int64(4) << 20
)

// upload streams the GCE tar.gz of raw into the object: the converter
// writes into a pipe, the storage Writer reads it in ChunkSize pieces and
// sends each as one request of a resumable upload.
func (p *publication) upload(ctx context.Context, raw *os.File, res *Result) error {
	s := p.spec
	exts, err := diskformat.Extents(raw)
	if err != nil {
		return err
	}
	var size int64
	for _, e := range exts {
		size = max(size, e.End())
		if e.Data {
			res.DataSize += e.Length
		}
	}
	res.DiskSize = max((size+gib-1)/gib*gib, gib)

	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	obj := p.c.Storage.Bucket(s.Bucket).Object(s.ObjectName).Retryer(p.c.Retry.storageRetry()...)
	w := obj.NewWriter(uctx)
	w.ChunkSize = s.ChunkSize
	w.ContentType = "application/gzip"
	w.Metadata = s.provenance()
	p.uploading = true

	pr, pw := io.Pipe()
	convDone := make(chan error, 1)
	go func() {
		err := diskformat.Convert(uctx, raw, diskformat.GCE, pw, diskformat.Options{GzipLevel: s.GzipLevel, Workers: s.Workers})
		pw.CloseWithError(err)
		convDone <- err
	}()
	cw := &countingWriter{w: w, progress: p.progress, total: res.DataSize}
	_, copyErr := io.Copy(cw, pr)
	if copyErr != nil {
		cancel() // abandons the resumable session: no object is created
		pr.CloseWithError(copyErr)
		<-convDone
		_ = w.Close()
		return fmt.Errorf("uploading gs://%s/%s: %w", s.Bucket, s.ObjectName, copyErr)
	}
	<-convDone
	if err := w.Close(); err != nil {
		return fmt.Errorf("uploading gs://%s/%s: %w", s.Bucket, s.ObjectName, err)
	}
	res.BytesUploaded, res.CRC32C = cw.n, cw.crc
	if got := w.Attrs().CRC32C; got != cw.crc {
		return fmt.Errorf("uploading gs://%s/%s: crc32c %08x, sent %08x: %w", s.Bucket, s.ObjectName, got, cw.crc, ErrChecksum)
	}
	return nil
}

// countingWriter counts and checksums what goes to the storage Writer and
// reports progress every few MiB.
type countingWriter struct {
	w        *storage.Writer
	n, next  int64
	total    int64
	crc      uint32
	progress func(Event)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.crc = crc32.Update(c.crc, castagnoli, b[:n])
	c.n += int64(n)
	if c.n >= c.next {
		c.progress(Event{Phase: PhaseUpload, Bytes: c.n, Total: c.total})
		c.next = c.n + progressEvery
	}
	return n, err
}
