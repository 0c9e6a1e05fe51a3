package grubenv_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/grubenv"
	"github.com/google/go-cmp/cmp"
)

type kv struct{ k, v string }

func build(vars ...kv) *grubenv.Env {
	e := &grubenv.Env{}
	for _, x := range vars {
		e.Set(x.k, x.v)
	}
	return e
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		vars []kv
	}{
		{name: "empty"},
		{name: "oem env", vars: []kv{
			{"efi_label", "COS_GRUB"}, {"oem_label", "COS_OEM"}, {"recovery_label", "COS_RECOVERY"},
			{"state_label", "COS_STATE"}, {"persistent_label", "COS_PERSISTENT"},
			{"default_menu_entry", "Elemental"}, {"default_fallback", "0 1"}, {"passive_snaps", ""},
		}},
		{name: "escapes", vars: []kv{{"a", `back\slash`}, {"b", "two\nlines\\\n"}, {"c", "#not a comment"}}},
		{name: "utf8", vars: []kv{{"entry", "Élémental ☃"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := build(tc.vars...)
			b, err := e.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != grubenv.Size {
				t.Fatalf("block is %d bytes, want %d", len(b), grubenv.Size)
			}
			got, err := grubenv.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(e.Keys(), got.Keys()); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			for _, x := range tc.vars {
				if v, ok := got.Get(x.k); !ok || v != x.v {
					t.Errorf("Get(%q) = %q, %v; want %q", x.k, v, ok, x.v)
				}
			}
		})
	}
}

func TestSetGetDelete(t *testing.T) {
	e := build(kv{"a", "1"}, kv{"b", "2"}, kv{"c", "3"})
	e.Set("a", "one") // keeps its place
	e.Delete("b")
	e.Delete("missing")
	e.Set("b", "two") // goes last
	if diff := cmp.Diff([]string{"a", "c", "b"}, e.Keys()); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if v, _ := e.Get("a"); v != "one" {
		t.Errorf("a = %q, want one", v)
	}
	if _, ok := e.Get("missing"); ok {
		t.Error("Get(missing) reports set")
	}
	var zero grubenv.Env
	if _, ok := zero.Get("x"); ok || len(zero.Keys()) != 0 {
		t.Error("zero Env is not empty")
	}
	zero.Delete("x")
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		vars []kv
		want []string // substrings of the error
	}{
		{name: "too large", vars: []kv{{"big", strings.Repeat("x", 1000)}}, want: []string{"too large", "1099 bytes"}},
		{name: "empty name", vars: []kv{{"", "x"}}, want: []string{"empty variable name"}},
		{name: "comment name", vars: []kv{{"#x", "x"}}, want: []string{`"#x"`}},
		{name: "bad chars and NUL together", vars: []kv{{"a=b", "x"}, {"ok", "a\x00b"}}, want: []string{`"a=b"`, `value of "ok" contains NUL`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(tc.vars...).MarshalBinary()
			if err == nil {
				t.Fatal("MarshalBinary succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	_, err := build(kv{"big", strings.Repeat("x", 2000)}).MarshalBinary()
	if !errors.Is(err, grubenv.ErrTooLarge) {
		t.Errorf("error %v is not ErrTooLarge", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    []kv
		wantErr string
	}{
		{name: "no signature", data: "a=b\n", wantErr: "signature"},
		{name: "bare signature", data: grubenv.Signature},
		{name: "comments and padding", data: grubenv.Signature + "# hi\\\nstill comment\na=b\n####", want: []kv{{"a", "b"}}},
		{name: "escaped value", data: grubenv.Signature + "a=x\\\\y\\\nz\n", want: []kv{{"a", "x\\y\nz"}}},
		{name: "duplicate keeps first place last value", data: grubenv.Signature + "a=1\nb=2\na=3\n", want: []kv{{"a", "3"}, {"b", "2"}}},
		{name: "no equals", data: grubenv.Signature + "junk\n", wantErr: "without '='"},
		{name: "unterminated", data: grubenv.Signature + "a=b", wantErr: "not terminated"},
		{name: "lone backslash", data: grubenv.Signature + "a=b\\", wantErr: "lone backslash"},
		{name: "newline in name", data: grubenv.Signature + "\na=b\n", wantErr: "newline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := grubenv.Parse([]byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []kv
			for _, k := range e.Keys() {
				v, _ := e.Get(k)
				got = append(got, kv{k, v})
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(kv{})); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMatchesGrubEditenv compares MarshalBinary with the file grub-editenv
// itself writes.
func TestMatchesGrubEditenv(t *testing.T) {
	tool, err := exec.LookPath("grub-editenv")
	if err != nil {
		t.Skipf("comparison with GRUB needs grub-editenv (apt package grub-common): %v", err)
	}
	tests := []struct {
		name string
		vars []kv
	}{
		{name: "a b c d", vars: []kv{{"a", "b"}, {"c", "d"}}},
		{name: "escapes", vars: []kv{{"x", "back\\slash"}, {"y", "multi\nline"}, {"empty", ""}}},
		{name: "oem env", vars: []kv{{"state_label", "COS_STATE"}, {"default_fallback", "0 1"}, {"passive_snaps", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "grubenv")
			run(t, tool, file, "create")
			args := []string{file, "set"}
			for _, x := range tc.vars {
				args = append(args, x.k+"="+x.v)
			}
			run(t, tool, args...)
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := build(tc.vars...).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("block differs from grub-editenv's:\ngot  %q\nwant %q", got, want)
			}
			// And grub-editenv reads ours back.
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tool, file, "list").Output()
			if err != nil {
				t.Fatalf("grub-editenv list: %v", err)
			}
			var wantList strings.Builder
			for _, x := range tc.vars {
				wantList.WriteString(x.k + "=" + x.v + "\n")
			}
			if string(out) != wantList.String() {
				t.Errorf("grub-editenv list = %q, want %q", out, wantList.String())
			}
		})
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func FuzzParse(f *testing.F) {
	seed, _ := build(kv{"a", "b\\c\nd"}, kv{"x", ""}).MarshalBinary()
	f.Add(seed)
	f.Add([]byte(grubenv.Signature + "a=b\n#c\\\nd=e\n"))
	f.Add([]byte(grubenv.Signature + "a=b\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := grubenv.Parse(data)
		if err != nil {
			return
		}
		b, err := e.MarshalBinary()
		if err != nil {
			if !errors.Is(err, grubenv.ErrTooLarge) {
				t.Fatalf("parsed env does not marshal: %v", err)
			}
			return
		}
		again, err := grubenv.Parse(b)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(e.Keys(), again.Keys()); diff != "" {
			t.Fatalf("keys changed (-first +second):\n%s", diff)
		}
		for _, k := range e.Keys() {
			v1, _ := e.Get(k)
			v2, _ := again.Get(k)
			if v1 != v2 {
				t.Fatalf("value of %q changed: %q -> %q", k, v1, v2)
			}
		}
	})
}
