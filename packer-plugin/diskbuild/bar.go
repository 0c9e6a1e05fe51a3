package diskbuild

import (
	"io"
	"sync"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// Bar shows an upload's progress with the SDK's TrackProgress bar. The
// publishers report byte counts, not streams, so Bar feeds the tracker a
// reader that yields as many (unread) bytes as were reported done.
type Bar struct {
	mu     sync.Mutex
	cond   *sync.Cond
	avail  int64
	done   int64
	closed bool
	wg     sync.WaitGroup
}

// NewBar starts a progress bar named name for total bytes.
func NewBar(ui packersdk.Ui, name string, total int64) *Bar {
	b := &Bar{}
	b.cond = sync.NewCond(&b.mu)
	r := ui.TrackProgress(name, 0, total, barReader{b})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		io.Copy(io.Discard, r) //nolint:errcheck // the reader only counts
		r.Close()
	}()
	return b
}

// Set moves the bar to done bytes; it never moves back.
func (b *Bar) Set(done int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if done > b.done {
		b.avail += done - b.done
		b.done = done
		b.cond.Broadcast()
	}
}

// barReader is what the tracker reads; closing it does nothing, the bar
// ends with Bar.Close.
type barReader struct{ b *Bar }

func (r barReader) Read(p []byte) (int, error) { return r.b.read(p) }
func (r barReader) Close() error               { return nil }

// read hands out the bytes reported so far; the content is meaningless.
func (b *Bar) read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.avail == 0 && !b.closed {
		b.cond.Wait()
	}
	if b.avail == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > b.avail {
		n = b.avail
	}
	b.avail -= n
	return int(n), nil
}

// Close ends the bar and waits for the tracker to finish.
func (b *Bar) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}
