package qemu

import (
	"bytes"
	"regexp"
	"sync"
)

// GRUB's menu, as it appears on the serial console. The header is drawn
// once per menu; the countdown line is rewritten every second until a key
// is pressed or the timeout runs out ("The highlighted entry will be
// executed automatically in 10s.").
var (
	menuHeader    = []byte("GNU GRUB  version")
	menuCountdown = regexp.MustCompile(`executed automatically in \d+s`)
)

// menuWindow bounds the bytes menuPresser keeps between writes: enough
// for a countdown line split across reads, with its escape sequences.
const menuWindow = 512

// menuPresser watches the serial stream and presses Enter once per GRUB
// menu when the countdown appears, as a user accepting the default entry
// would. An entry chosen that way is not auto-booted, so GRUB does not
// try its fallback entries when it fails: turn the presser off for boots
// that must fall back.
type menuPresser struct {
	mu      sync.Mutex
	on      bool
	armed   bool   // a menu header was seen since the last press
	window  []byte // tail of the stream since the last header or press
	presses int
	press   func() // sends Enter; must not block on the serial stream
}

func newMenuPresser(on bool, press func()) *menuPresser {
	return &menuPresser{on: on, armed: true, press: press}
}

// Write implements io.Writer; it never fails.
func (m *menuPresser) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.window = append(m.window, p...)
	if i := bytes.LastIndex(m.window, menuHeader); i >= 0 {
		m.armed = true
		m.window = m.window[i+len(menuHeader):]
	}
	if m.armed && m.on && menuCountdown.Match(m.window) {
		m.armed = false
		m.window = m.window[:0]
		m.presses++
		m.press()
	}
	if len(m.window) > menuWindow {
		m.window = append(m.window[:0], m.window[len(m.window)-menuWindow:]...)
	}
	return len(p), nil
}

func (m *menuPresser) set(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on = on
}

func (m *menuPresser) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.presses
}
