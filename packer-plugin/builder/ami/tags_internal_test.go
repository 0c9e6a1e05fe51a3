package ami

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// kv builds the raw form of `tag { key = k value = v }` blocks, as Packer
// hands them to Prepare.
func kv(pairs ...string) []map[string]any {
	var out []map[string]any
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, map[string]any{"key": pairs[i], "value": pairs[i+1]})
	}
	return out
}

func TestPrepareMergesTagBlocks(t *testing.T) {
	tests := []struct {
		name         string
		raw          []any
		wantTags     map[string]string
		wantSnapTags map[string]string
		wantWarns    []string
	}{
		{name: "maps only", raw: []any{"tags", map[string]string{"Name": "os"}, "snapshot_tags", map[string]string{"Name": "snap"}},
			wantTags: map[string]string{"Name": "os"}, wantSnapTags: map[string]string{"Name": "snap"}},
		{name: "blocks only", raw: []any{"tag", kv("Name", "os", "Team", "a"), "snapshot_tag", kv("Name", "snap")},
			wantTags: map[string]string{"Name": "os", "Team": "a"}, wantSnapTags: map[string]string{"Name": "snap"}},
		{name: "map and blocks are merged", raw: []any{"tags", map[string]string{"Name": "os"}, "tag", kv("Team", "a")},
			wantTags: map[string]string{"Name": "os", "Team": "a"}},
		{name: "a block wins over the map, with a warning",
			raw:       []any{"tags", map[string]string{"Name": "os", "Env": "prod"}, "tag", kv("Name", "block")},
			wantTags:  map[string]string{"Name": "block", "Env": "prod"},
			wantWarns: []string{`tag[0]: key "Name" overrides the value "os" it has in tags`}},
		{name: "the same value twice is no warning", raw: []any{"tags", map[string]string{"Name": "os"}, "tag", kv("Name", "os")},
			wantTags: map[string]string{"Name": "os"}},
		{name: "provenance keys are replaced, with a warning",
			raw:      []any{"tags", map[string]string{"elemental:source": "x"}, "snapshot_tag", kv("elemental:publish-run", "y")},
			wantTags: map[string]string{"elemental:source": "x"}, wantSnapTags: map[string]string{"elemental:publish-run": "y"},
			wantWarns: []string{`tags["elemental:source"]: elemental:source is a provenance tag the build sets; this value is replaced`,
				"snapshot_tag[0]: elemental:publish-run is a provenance tag the build sets; this value is replaced"}},
		{name: "a later block wins over an earlier one", raw: []any{"snapshot_tag", kv("Name", "a", "Name", "b")},
			wantSnapTags: map[string]string{"Name": "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b Builder
			_, warns, err := b.Prepare(raw(tc.raw...))
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			s := b.specs.ami
			if diff := cmp.Diff(tc.wantTags, s.Tags, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("AMI tags (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSnapTags, s.SnapshotTags, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("snapshot tags (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarns, warns, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareTagErrors(t *testing.T) {
	many := map[string]string{}
	for i := range 41 {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	long := strings.Repeat("é", 257)
	tests := []struct {
		name string
		raw  []any
		want []string
	}{
		{name: "empty key in a block", raw: []any{"tag", kv("", "v")}, want: []string{"tag[0]: key is empty"}},
		{name: "reserved prefix in the map", raw: []any{"tags", map[string]string{"AWS:name": "v"}},
			want: []string{`tags["AWS:name"]: key "AWS:name": the aws: prefix is reserved for AWS`}},
		{name: "long key and value in a snapshot block", raw: []any{"snapshot_tag", kv(strings.Repeat("k", 129), long)},
			want: []string{"snapshot_tag[0]: key has 129 characters, at most 128", "snapshot_tag[0]: value has 257 characters, at most 256"}},
		{name: "long value in the snapshot map", raw: []any{"snapshot_tags", map[string]string{"k": long}},
			want: []string{`snapshot_tags["k"]: value has 257 characters, at most 256`}},
		{name: "too many tags counted after the merge", raw: []any{"tags", many, "tag", kv("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "k00", "6")},
			want: []string{"tags and tag: 46 tags, at most 44 (AWS allows 50 and the build adds 6 provenance tags)"}},
		{name: "every problem at once", raw: []any{"tag", kv("", "v", "aws:x", "y"), "snapshot_tags", map[string]string{"": "z"}},
			want: []string{`snapshot_tags[""]: key is empty`, "tag[0]: key is empty", `tag[1]: key "aws:x": the aws: prefix is reserved for AWS`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b Builder
			_, _, err := b.Prepare(raw(tc.raw...))
			var m *packersdk.MultiError
			if !errors.As(err, &m) {
				t.Fatalf("err = %v, want a MultiError", err)
			}
			var got []string
			for _, e := range m.Errors {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
