package rootfs

import (
	"errors"
	"io"
)

// Tee returns a Sink that hands every entry to each of sinks in order. File
// data is written to every sink's writer chunk by chunk, so no file is
// buffered whole.
func Tee(sinks ...Sink) Sink { return teeSink(sinks) }

type teeSink []Sink

func (t teeSink) Add(e *Entry) (io.WriteCloser, error) {
	var ws []io.WriteCloser
	for _, s := range t {
		w, err := s.Add(e)
		if err != nil {
			for _, w := range ws {
				w.Close()
			}
			return nil, err
		}
		if w != nil {
			ws = append(ws, w)
		}
	}
	switch len(ws) {
	case 0:
		if e.Type == TypeReg {
			return Discard(), nil
		}
		return nil, nil
	case 1:
		return ws[0], nil
	}
	return multiWriteCloser(ws), nil
}

type multiWriteCloser []io.WriteCloser

func (m multiWriteCloser) Write(p []byte) (int, error) {
	for _, w := range m {
		n, err := w.Write(p)
		if err != nil {
			return n, err
		}
		if n != len(p) {
			return n, io.ErrShortWrite
		}
	}
	return len(p), nil
}

func (m multiWriteCloser) Close() error {
	var errs []error
	for _, w := range m {
		errs = append(errs, w.Close())
	}
	return errors.Join(errs...)
}

// Discard returns a writer that accepts and drops file data.
func Discard() io.WriteCloser { return discard{} }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(e *Entry) (io.WriteCloser, error)

// Add calls f(e).
func (f SinkFunc) Add(e *Entry) (io.WriteCloser, error) { return f(e) }
