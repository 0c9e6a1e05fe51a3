package qemu

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ansiRE matches CSI and a few other escape sequences that firmware and
// boot loaders print on the serial console.
var ansiRE = regexp.MustCompile(`\x1b(\[[0-9;?=]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78cDEHM])`)

// serialBuffer collects serial output as lines. It is an io.Writer fed by
// the goroutine that copies QEMU's serial stream.
type serialBuffer struct {
	mu      sync.Mutex
	lines   []string // complete lines, cleaned
	partial []byte   // raw bytes after the last newline
	changed chan struct{}
	closed  bool
	why     error // set when the stream ended
}

func newSerialBuffer() *serialBuffer {
	return &serialBuffer{changed: make(chan struct{})}
}

func cleanLine(b []byte) string {
	s := ansiRE.ReplaceAllString(string(b), "")
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == 0 {
			return -1
		}
		return r
	}, s)
}

// Write implements io.Writer.
func (s *serialBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.lines = append(s.lines, cleanLine(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	s.notifyLocked()
	return len(p), nil
}

func (s *serialBuffer) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// end records that no more output will come.
func (s *serialBuffer) end(why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed, s.why = true, why
	s.notifyLocked()
}

// match looks for the first line at index >= from matching re. The
// unterminated last line (a prompt such as "login: ") is considered too.
// It returns the line, the index after it, whether it matched, a channel
// that is closed on the next change, and the end-of-stream error if any.
func (s *serialBuffer) match(re *regexp.Regexp, from int) (string, int, bool, <-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := from; i < len(s.lines); i++ {
		if re.MatchString(s.lines[i]) {
			return s.lines[i], i + 1, true, nil, nil
		}
	}
	if len(s.partial) > 0 && from <= len(s.lines) {
		if p := cleanLine(s.partial); re.MatchString(p) {
			return p, len(s.lines) + 1, true, nil, nil
		}
	}
	var why error
	if s.closed {
		why = s.why
		if why == nil {
			why = io.EOF
		}
	}
	return "", 0, false, s.changed, why
}

// tail returns the last n lines, the partial line included.
func (s *serialBuffer) tail(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.lines
	if len(s.partial) > 0 {
		all = append(all[:len(all):len(all)], cleanLine(s.partial))
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return append([]string(nil), all...)
}

// waitFor blocks until a line at index >= *pos matches, the timeout
// passes, ctx ends or the stream ends. On a match *pos moves past it.
func (s *serialBuffer) waitFor(ctx context.Context, re *regexp.Regexp, pos *int, timeout time.Duration) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		line, next, ok, changed, ended := s.match(re, *pos)
		if ok {
			*pos = next
			return line, nil
		}
		if ended != nil {
			return "", fmt.Errorf("serial output ended before %q: %w", re, ended)
		}
		select {
		case <-changed:
		case <-timer.C:
			return "", fmt.Errorf("no serial line matched %q within %s", re, timeout)
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %q: %w", re, ctx.Err())
		}
	}
}

// powerDownRE matches what Linux prints last when the guest powers off
// (as opposed to "reboot: Restarting system").
var powerDownRE = regexp.MustCompile(`reboot: Power down|System halted`)

// poweredOff reports whether the guest's last lines say it powered off.
func (s *serialBuffer) poweredOff() bool {
	for _, l := range s.tail(5) {
		if powerDownRE.MatchString(l) {
			return true
		}
	}
	return false
}

// breakLine ends the unterminated last line, so the output of the next
// QEMU process starts a line of its own.
func (s *serialBuffer) breakLine() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.lines = append(s.lines, cleanLine(s.partial))
		s.partial = nil
		s.notifyLocked()
	}
}
