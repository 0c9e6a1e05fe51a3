package diskbuild

import (
	"errors"
	"regexp"
	"strings"

	"github.com/elemental-suite/elemental/internal/installer"
)

// Validate checks a mapped spec with the core and returns its problems one
// by one, so that they join the builder's MultiError. The core names its
// own fields ("recovery filesystem"); Validate renames them to the template
// names, using fieldNames and then extra (builder-specific fields).
func Validate(spec installer.Spec, extra map[string]string) []error {
	err := spec.Validate()
	if err == nil {
		return nil
	}
	errs := []error{err}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		out = append(out, Rename(e, extra))
	}
	return out
}

// fieldNames maps the core's field names, as its messages start, to the
// template's.
var fieldNames = map[string]string{
	"source:":               "source_image:",
	"platform ":             "platform ",
	"recovery filesystem ":  "recovery.filesystem ",
	"squashfs compression ": "recovery.squashfs_compression ",
	"disk size:":            "disk_size:",
	"efi size:":             "partition_sizes.efi:",
	"oem size:":             "partition_sizes.oem:",
	"recovery size:":        "partition_sizes.recovery:",
	"state size:":           "partition_sizes.state:",
	"persistent size:":      "partition_sizes.persistent:",
	"source date epoch:":    "source_date_epoch:",
}

// fieldError is a core validation error under its template name.
type fieldError struct {
	msg string
	err error
}

func (e *fieldError) Error() string { return e.msg }
func (e *fieldError) Unwrap() error { return e.err }

// cloudConfigRE matches the core's "cloud config N (ORIGIN): " prefix;
// the origin is already the template's field (Config.Spec sets it).
var cloudConfigRE = regexp.MustCompile(`^cloud config \d+ \((cloud_config|cloud_config_files\[\d+\] .*?)\): `)

// Rename renames the field an error message starts with, using extra and
// then the core's field names; other errors are returned unchanged.
func Rename(err error, extra map[string]string) error {
	msg := err.Error()
	if m := cloudConfigRE.FindStringSubmatchIndex(msg); m != nil {
		return &fieldError{msg: msg[m[2]:m[3]] + ": " + msg[m[1]:], err: err}
	}
	for _, names := range []map[string]string{extra, fieldNames} {
		for core, field := range names {
			if strings.HasPrefix(msg, core) {
				return &fieldError{msg: field + strings.TrimPrefix(msg, core), err: err}
			}
		}
	}
	return err
}
