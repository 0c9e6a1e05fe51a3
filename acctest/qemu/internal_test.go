package qemu

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSerialBufferWaitFor(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		re     string
		from   int
		want   string
		next   int
	}{
		{name: "strips ANSI and CR", writes: []string{"\x1b[2J\x1b[01;01HBdsDxe: x\r\n"}, re: `^BdsDxe: x$`, want: "BdsDxe: x", next: 1},
		{name: "line split across writes", writes: []string{"hel", "lo\nworld\n"}, re: `world`, want: "world", next: 2},
		{name: "skips lines before position", writes: []string{"a1\na2\n"}, re: `a\d`, from: 1, want: "a2", next: 2},
		{name: "unterminated prompt", writes: []string{"boot\nlocalhost login: "}, re: `login: $`, want: "localhost login: ", next: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSerialBuffer()
			for _, w := range tt.writes {
				s.Write([]byte(w))
			}
			pos := tt.from
			got, err := s.waitFor(t.Context(), regexp.MustCompile(tt.re), &pos, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}
			if pos != tt.next {
				t.Errorf("position = %d, want %d", pos, tt.next)
			}
		})
	}
}

func TestSerialBufferWakesOnLaterWrite(t *testing.T) {
	s := newSerialBuffer()
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.Write([]byte("late line\n"))
	}()
	pos := 0
	if _, err := s.waitFor(t.Context(), regexp.MustCompile(`late`), &pos, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s.end(nil)
	if _, err := s.waitFor(t.Context(), regexp.MustCompile(`late`), &pos, 5*time.Second); err == nil {
		t.Error("matched the same line twice or missed the end of output")
	}
}

func TestCreateOverlayGrows(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skipf("needs qemu-img: %v", err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.raw")
	if err := os.WriteFile(base, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay, err := createOverlay(context.Background(), dir, base, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("qemu-img", "info", "--output=json", overlay).Output()
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Format        string `json:"format"`
		VirtualSize   int64  `json:"virtual-size"`
		BackingFile   string `json:"backing-filename"`
		BackingFormat string `json:"backing-filename-format"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	want := struct {
		Format        string `json:"format"`
		VirtualSize   int64  `json:"virtual-size"`
		BackingFile   string `json:"backing-filename"`
		BackingFormat string `json:"backing-filename-format"`
	}{"qcow2", 8 << 20, base, "raw"}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("overlay (-want +got):\n%s", diff)
	}
}

func TestMenuPresser(t *testing.T) {
	const (
		header = "\x1b[02;24HGNU GRUB  version 2.06-13+deb12u2\r\n"
		tick10 = "\x1b[05;78H\x1b[48;01H   The highlighted entry will be executed automatically in 10s.   "
		tick9  = "\x1b[05;78H\x1b[48;01H   The highlighted entry will be executed automatically in 9s.    "
	)
	tests := []struct {
		name   string
		off    bool
		writes []string
		want   int
	}{
		{name: "presses at the countdown", writes: []string{header, tick10}, want: 1},
		{name: "once per menu", writes: []string{header, tick10, tick9, tick9}, want: 1},
		{name: "countdown split across writes", writes: []string{header, tick10[:40], tick10[40:70], tick10[70:]}, want: 1},
		{name: "no countdown no press", writes: []string{header, "Press enter to boot the selected OS\r\n"}, want: 0},
		{name: "every menu of a reboot", writes: []string{header, tick10, "Linux version 6.1\r\n", header, tick10}, want: 2},
		{name: "off", off: true, writes: []string{header, tick10, tick9}, want: 0},
		{name: "long output between menus", writes: []string{header, tick10, strings.Repeat("x", 4096), tick9, header, tick9}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pressed := 0
			m := newMenuPresser(!tt.off, func() { pressed++ })
			for _, w := range tt.writes {
				if n, err := m.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if pressed != tt.want || m.count() != tt.want {
				t.Errorf("pressed %d times (count %d), want %d", pressed, m.count(), tt.want)
			}
		})
	}
}

func TestMenuPresserSwitch(t *testing.T) {
	pressed := 0
	m := newMenuPresser(true, func() { pressed++ })
	m.set(false)
	m.Write([]byte("GNU GRUB  version 2.06\nexecuted automatically in 10s."))
	if pressed != 0 {
		t.Fatalf("pressed %d times while off", pressed)
	}
	m.set(true)
	m.Write([]byte("executed automatically in 9s."))
	if pressed != 1 {
		t.Errorf("pressed %d times after switching on during the countdown, want 1", pressed)
	}
}
