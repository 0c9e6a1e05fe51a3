package gcp

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// GCP label rules: at most 64 labels; keys 1-63 characters, starting with
// a lowercase letter; keys and values use lowercase letters, digits, '_'
// and '-'; values at most 63 characters.
const (
	maxLabels   = 64
	maxLabelLen = 63
)

var (
	labelKeyRe   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRe = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	digestRe     = regexp.MustCompile(`^(sha256|sha512):([0-9a-f]{32,})$`)
)

// ErrInvalidLabel marks a label that breaks the GCP label rules.
var ErrInvalidLabel = errors.New("invalid label")

// SanitizeLabelValue turns any string into a valid label value: an OCI
// digest becomes "<algorithm>-<first 32 hex digits>"; otherwise it is
// lowercased, every character outside [a-z0-9_-] becomes '-', and it is
// cut to 63 characters.
func SanitizeLabelValue(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if m := digestRe.FindStringSubmatch(v); m != nil {
		return m[1] + "-" + m[2][:32]
	}
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= maxLabelLen {
			break
		}
	}
	return b.String()
}

// SanitizeLabelKey is SanitizeLabelValue for keys, which must also start
// with a letter (a "k-" prefix is added otherwise) and not be empty.
func SanitizeLabelKey(k string) string {
	k = SanitizeLabelValue(k)
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		k = "k-" + k
	}
	if len(k) > maxLabelLen {
		k = k[:maxLabelLen]
	}
	return k
}

// checkLabels validates labels against the GCP rules.
func checkLabels(labels map[string]string) error {
	var errs []error
	if len(labels) > maxLabels {
		errs = append(errs, fmt.Errorf("%d labels (at most %d): %w", len(labels), maxLabels, ErrInvalidLabel))
	}
	for _, k := range sortedKeys(labels) {
		if !labelKeyRe.MatchString(k) {
			errs = append(errs, fmt.Errorf("label key %q: %w", k, ErrInvalidLabel))
		}
		if !labelValueRe.MatchString(labels[k]) {
			errs = append(errs, fmt.Errorf("label %q value %q: %w", k, labels[k], ErrInvalidLabel))
		}
	}
	return errors.Join(errs...)
}

// mergeLabels returns user labels plus sanitized provenance labels; a
// provenance key that collides with a user label with another value is
// an error.
func mergeLabels(user, provenance map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(user)+len(provenance))
	for k, v := range user {
		out[k] = v
	}
	var errs []error
	for _, k := range sortedKeys(provenance) {
		sk, sv := SanitizeLabelKey(k), SanitizeLabelValue(provenance[k])
		if old, ok := out[sk]; ok && old != sv {
			errs = append(errs, fmt.Errorf("provenance label %q collides with label %q=%q: %w", k, sk, old, ErrInvalidLabel))
			continue
		}
		out[sk] = sv
	}
	return out, errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
