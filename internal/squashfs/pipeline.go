package squashfs

import (
	"fmt"
	"io"
	"sync"
)

// uncompressedBit marks a data block stored as is (squashfs
// SQUASHFS_COMPRESSED_BIT_BLOCK).
const uncompressedBit = 1 << 24

// job is one data or fragment block on its way to the image.
type job struct {
	data   []byte // input, from the pool
	sparse bool   // all zeros: nothing is written, size 0
	out    []byte // compressed bytes, from the pool
	stored bool   // out holds data uncompressed
	err    error
	done   chan struct{}
	// place runs on the writer goroutine, in submission order, with the
	// block's image offset and its block-list size word.
	place func(start int64, size uint32)
	// run, for a job without a block, runs on the writer goroutine once
	// every block submitted before it is placed.
	run func() error
}

// pipeline compresses blocks on several workers and writes them in
// submission order at increasing offsets, so that the output does not
// depend on scheduling. At most a bounded number of blocks is in flight.
type pipeline struct {
	w     io.WriterAt
	work  chan *job
	order chan *job
	pool  sync.Pool
	bsize int

	wg       sync.WaitGroup // workers
	finished chan struct{}  // writer goroutine done

	mu  sync.Mutex
	err error

	off int64 // next write offset; owned by the writer goroutine
}

func newPipeline(w io.WriterAt, start int64, opts Options) (*pipeline, error) {
	p := &pipeline{
		w:        w,
		work:     make(chan *job, opts.Workers),
		order:    make(chan *job, 2*opts.Workers+2),
		bsize:    opts.BlockSize,
		finished: make(chan struct{}),
		off:      start,
	}
	p.pool.New = func() any { b := make([]byte, 0, opts.BlockSize); return &b }
	comps := make([]compressor, opts.Workers)
	for i := range comps {
		c, err := newDataCompressor(opts.Compression, opts.BlockSize)
		if err != nil {
			return nil, err
		}
		comps[i] = c
	}
	for _, c := range comps {
		p.wg.Add(1)
		go p.worker(c)
	}
	go p.writer()
	return p, nil
}

// buf returns an empty buffer of block-size capacity.
func (p *pipeline) buf() []byte { return (*p.pool.Get().(*[]byte))[:0] }

func (p *pipeline) put(b []byte) {
	if cap(b) == p.bsize {
		b = b[:0]
		p.pool.Put(&b)
	}
}

func (p *pipeline) worker(c compressor) {
	defer p.wg.Done()
	for j := range p.work {
		out, ok, err := c.compress(p.buf(), j.data)
		switch {
		case err != nil:
			j.err = err
		case ok:
			// The input is not needed any more: back to the pool now,
			// not when the block is written, to bound the buffers in
			// flight (issue 7).
			j.out = out
			p.put(j.data)
			j.data = nil
		default:
			p.put(out)
			j.out, j.stored = j.data, true
			j.data = nil
		}
		close(j.done)
	}
}

func (p *pipeline) writer() {
	defer close(p.finished)
	for j := range p.order {
		<-j.done
		if err := p.write(j); err != nil {
			p.fail(err)
		}
		p.put(j.data)
		p.put(j.out)
	}
}

func (p *pipeline) write(j *job) error {
	if j.err != nil {
		return j.err
	}
	if p.failed() != nil {
		return nil
	}
	if j.run != nil {
		return j.run()
	}
	if j.sparse {
		j.place(p.off, 0)
		return nil
	}
	size := uint32(len(j.out))
	if j.stored {
		size |= uncompressedBit
	}
	if _, err := p.w.WriteAt(j.out, p.off); err != nil {
		return fmt.Errorf("writing data block at offset %d: %w", p.off, err)
	}
	j.place(p.off, size)
	p.off += int64(len(j.out))
	return nil
}

func (p *pipeline) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

func (p *pipeline) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// submit queues data (a pooled buffer the pipeline now owns) as the next
// block. A sparse block carries no data.
func (p *pipeline) submit(data []byte, sparse bool, place func(int64, uint32)) error {
	if err := p.failed(); err != nil {
		p.put(data)
		return err
	}
	j := &job{data: data, sparse: sparse, place: place, done: make(chan struct{})}
	p.order <- j
	if sparse {
		close(j.done)
		return nil
	}
	p.work <- j
	return nil
}

// after queues run to be called on the writer goroutine after every
// block submitted so far has been placed.
func (p *pipeline) after(run func() error) error {
	if err := p.failed(); err != nil {
		return err
	}
	j := &job{run: run, done: make(chan struct{})}
	close(j.done)
	p.order <- j
	return nil
}

// finish waits for every queued block and returns the offset after the
// last one.
func (p *pipeline) finish() (int64, error) {
	close(p.work)
	close(p.order)
	p.wg.Wait()
	<-p.finished
	return p.off, p.failed()
}
