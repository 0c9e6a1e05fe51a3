package statefile_test

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/elemental-suite/elemental/internal/statefile"
)

// FuzzStateRoundTrip renders state.yaml for both generations from random
// field values and checks that yaml.v3 reads every value back unchanged:
// no value can break out of its field (a quote, "key: value", a YAML
// document marker or invalid UTF-8 in an image reference). Values with
// control characters (newline, tab) must be refused with an error.
func FuzzStateRoundTrip(f *testing.F) {
	f.Add("oci://reg.example/d:1", "sha256:aa", "COS_SYSTEM", "squashfs", "build-disk", int64(1700000000))
	f.Add("oci://x\nsnapshots: {}", "a: b", "'\"", "--- !!binary", "\x00\t#", int64(0))
	f.Add("", "", "", "", "", int64(-62135596800))
	f.Add("dir:///a b/é", "~", "null", "yes", "&anchor *alias", int64(253402300799))
	f.Add("\xff\xfe", "\u2028", "\ufeff", "\r\n", "\x85", int64(1))
	f.Add("\n", "\na", "\t\n", "\n\n", " \n", int64(2))
	f.Fuzz(func(t *testing.T, source, digest, label, fs, from string, unix int64) {
		// RFC 3339 holds years 0000-9999 only.
		if unix < -62167219200 || unix > 253402300799 {
			return
		}
		d := statefile.Disk{
			Date:       time.Unix(unix, 0).UTC(),
			System:     statefile.Image{Source: source, Digest: digest, FS: fs},
			Recovery:   statefile.Image{Source: source + "/r", Digest: digest, Label: label, FS: fs},
			FromAction: from,
		}
		wantFrom := from
		if wantFrom == "" {
			wantFrom = "build-disk"
		}
		control := false
		for _, v := range []string{source, digest, label, fs, from} {
			control = control || strings.ContainsFunc(v, unicode.IsControl)
		}
		v2, err := statefile.V2(d)
		if control {
			if err == nil {
				t.Fatalf("V2 accepted a control character:\n%s", v2)
			}
			if _, err1 := statefile.V1(d); err1 == nil {
				t.Fatal("V1 accepted a control character")
			}
			return
		}
		if err != nil {
			t.Fatalf("V2: %v", err)
		}
		m := parse(t, v2)
		checkDate(t, m, d.Date)
		check(t, v2, m, d.Recovery.Source, "recovery", "recovery", "source")
		check(t, v2, m, digest, "recovery", "recovery", "digest")
		check(t, v2, m, label, "recovery", "recovery", "label")
		check(t, v2, m, fs, "recovery", "recovery", "fs")
		check(t, v2, m, wantFrom, "recovery", "recovery", "fromAction")
		check(t, v2, m, source, "state", "snapshots", 1, "source")
		check(t, v2, m, digest, "state", "snapshots", 1, "digest")
		check(t, v2, m, "COS_STATE", "state", "label")

		v1, err := statefile.V1(d)
		if err != nil {
			t.Fatalf("V1: %v", err)
		}
		m = parse(t, v1)
		checkDate(t, m, d.Date)
		check(t, v1, m, source, "state", "active", "source")
		check(t, v1, m, source, "state", "passive", "source")
		check(t, v1, m, digest, "state", "active", "source-metadata", "digest")
		check(t, v1, m, d.Recovery.Source, "recovery", "recovery", "source")
		check(t, v1, m, label, "recovery", "recovery", "label")
		check(t, v1, m, fs, "recovery", "recovery", "fs")
		check(t, v1, m, "COS_ACTIVE", "state", "active", "label")
	})
}

func parse(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("state.yaml does not parse: %v\n%s", err, b)
	}
	return m
}

// lookup follows keys (strings, or ints for the snapshot map) through
// nested mappings; a missing key gives "".
func lookup(m map[string]any, keys ...any) (any, bool) {
	var cur any = m
	for _, k := range keys {
		switch c := cur.(type) {
		case map[string]any:
			s, _ := k.(string)
			cur = c[s]
		case map[any]any:
			cur = c[k]
		default:
			return nil, false
		}
		if cur == nil {
			return nil, false
		}
	}
	return cur, true
}

// check compares a string field; the writer omits empty fields.
func check(t *testing.T, doc []byte, m map[string]any, want string, keys ...any) {
	t.Helper()
	v, ok := lookup(m, keys...)
	if !ok {
		if want != "" {
			t.Errorf("%v missing, want %q in\n%s", keys, want, doc)
		}
		return
	}
	if s, isStr := v.(string); !isStr || s != want {
		t.Errorf("%v = %#v, want %q in\n%s", keys, v, want, doc)
	}
}

func checkDate(t *testing.T, m map[string]any, want time.Time) {
	t.Helper()
	v, _ := lookup(m, "date")
	var got time.Time
	switch x := v.(type) {
	case string:
		got, _ = time.Parse(time.RFC3339, x)
	case time.Time:
		got = x
	}
	if !got.Equal(want) {
		t.Errorf("date = %#v, want %v", v, want)
	}
}
