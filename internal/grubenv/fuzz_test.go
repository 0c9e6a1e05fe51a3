package grubenv_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/grubenv"
)

func fzFuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// FuzzSetRoundTrip sets random keys and values: a block MarshalBinary
// accepts is exactly Size bytes, parses back to the same variables, and
// (for seed inputs, when grub-editenv is installed) GRUB's own tool lists
// the same variables.
func FuzzSetRoundTrip(f *testing.F) {
	f.Add("state_label", "COS_STATE", "default_fallback", "0 1")
	f.Add("a", "back\\slash", "b", "multi\nline")
	f.Add("k", "", "k", "again")
	f.Add("#c", "x", "a=b", "y")
	f.Add("big", strings.Repeat("v", 1000), "n\x00", "\x00")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		var e grubenv.Env
		e.Set(k1, v1)
		e.Set(k2, v2)
		want := map[string]string{k1: v1}
		want[k2] = v2
		b, err := e.MarshalBinary()
		if err != nil {
			return
		}
		if len(b) != grubenv.Size || !strings.HasPrefix(string(b), grubenv.Signature) {
			t.Fatalf("block of %d bytes starting %q", len(b), b[:min(len(b), 30)])
		}
		back, err := grubenv.Parse(b)
		if err != nil {
			t.Fatalf("parsing our own block: %v\n%q", err, b)
		}
		if len(back.Keys()) != len(want) {
			t.Fatalf("keys %q, want %d", back.Keys(), len(want))
		}
		for k, v := range want {
			if got, ok := back.Get(k); !ok || got != v {
				t.Fatalf("%q = %q (%v), want %q", k, got, ok, v)
			}
		}
		if !fzFuzzing() {
			checkEditenvList(t, b, e.Keys(), want)
		}
	})
}

// checkEditenvList has grub-editenv list the block; values with a newline
// are skipped (list prints them raw).
func checkEditenvList(t *testing.T, block []byte, keys []string, want map[string]string) {
	tool, err := exec.LookPath("grub-editenv")
	if err != nil {
		t.Skipf("needs grub-editenv (apt package grub-common): %v", err)
	}
	file := filepath.Join(t.TempDir(), "grubenv")
	if err := os.WriteFile(file, block, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, file, "list").Output()
	if err != nil {
		t.Fatalf("grub-editenv list: %v", err)
	}
	var list strings.Builder
	for _, k := range keys {
		if strings.Contains(want[k], "\n") {
			return
		}
		list.WriteString(k + "=" + want[k] + "\n")
	}
	if string(out) != list.String() {
		t.Errorf("grub-editenv list = %q, want %q", out, list.String())
	}
}
