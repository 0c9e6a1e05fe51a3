package qemu

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
