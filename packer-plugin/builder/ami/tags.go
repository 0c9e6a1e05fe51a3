package ami

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/packer-plugin-sdk/template/config"

	publishaws "github.com/elemental-suite/elemental/internal/publish/aws"
)

// AWS limits on user tags: 50 tags per resource, of which the build itself
// sets provenanceTagCount (the four elemental:* provenance tags, the suite
// version and the publisher's run tag); keys up to 128 characters, values up to 256.
const (
	awsMaxTags         = 50
	provenanceTagCount = 6
	maxUserTags        = awsMaxTags - provenanceTagCount
	maxTagKey          = 128
	maxTagValue        = 256
)

// Provenance tag keys: provenance() sets the first four, the publisher
// the run tag.
const (
	tagSource        = "elemental:source"
	tagSourceDigest  = "elemental:source-digest"
	tagGeneration    = "elemental:generation"
	tagKernelVersion = "elemental:kernel-version"
)

var provenanceKeys = []string{tagSource, tagSourceDigest, tagGeneration, tagKernelVersion, publishaws.TagSuiteVersion, publishaws.RunTag}

// tagSet names a map field and the block field merged into it.
type tagSet struct {
	mapField, blockField string
	m                    *map[string]string
	blocks               config.KeyValues
}

// mergeTags merges the `tag` and `snapshot_tag` blocks into their maps as
// packer-plugin-amazon does (the SDK's KeyValues.CopyOn: a block wins over
// the map, a later block over an earlier one) and checks the result
// against AWS's limits. Problems name the block or map entry they come
// from; overridden map entries are warnings.
func (c *Config) mergeTags() (warns []string, errs []error) {
	for _, s := range []tagSet{
		{"tags", "tag", &c.Tags, c.Tag},
		{"snapshot_tags", "snapshot_tag", &c.SnapshotTags, c.SnapshotTag},
	} {
		w, e := s.merge()
		warns, errs = append(warns, w...), append(errs, e...)
	}
	return warns, errs
}

func (s tagSet) merge() (warns []string, errs []error) {
	for _, k := range sortedKeys(*s.m) {
		field := fmt.Sprintf("%s[%q]", s.mapField, k)
		errs = append(errs, checkTag(field, k, (*s.m)[k])...)
		warns = append(warns, provenanceWarning(field, k)...)
	}
	for i, kv := range s.blocks {
		field := fmt.Sprintf("%s[%d]", s.blockField, i)
		errs = append(errs, checkTag(field, kv.Key, kv.Value)...)
		warns = append(warns, provenanceWarning(field, kv.Key)...)
		if old, ok := (*s.m)[kv.Key]; ok && old != kv.Value && kv.Key != "" {
			warns = append(warns, fmt.Sprintf("%s[%d]: key %q overrides the value %q it has in %s",
				s.blockField, i, kv.Key, old, s.mapField))
		}
	}
	errs = append(errs, s.blocks.CopyOn(s.m)...)
	if n := len(*s.m); n > maxUserTags {
		field := s.mapField
		if len(s.blocks) > 0 {
			field += " and " + s.blockField
		}
		errs = append(errs, fmt.Errorf("%s: %d tags, at most %d (AWS allows %d and the build adds %d provenance tags)",
			field, n, maxUserTags, awsMaxTags, provenanceTagCount))
	}
	return warns, errs
}

// checkTag checks one tag against AWS's rules; field names it.
func checkTag(field, key, value string) []error {
	var errs []error
	switch {
	case key == "":
		errs = append(errs, fmt.Errorf("%s: key is empty", field))
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		errs = append(errs, fmt.Errorf("%s: key %q: the aws: prefix is reserved for AWS", field, key))
	case utf8.RuneCountInString(key) > maxTagKey:
		errs = append(errs, fmt.Errorf("%s: key has %d characters, at most %d", field, utf8.RuneCountInString(key), maxTagKey))
	}
	if n := utf8.RuneCountInString(value); n > maxTagValue {
		errs = append(errs, fmt.Errorf("%s: value has %d characters, at most %d", field, n, maxTagValue))
	}
	return errs
}

// provenanceWarning warns about a tag the build's own tags replace.
func provenanceWarning(field, key string) []string {
	if !slices.Contains(provenanceKeys, key) {
		return nil
	}
	return []string{fmt.Sprintf("%s: %s is a provenance tag the build sets; this value is replaced", field, key)}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
