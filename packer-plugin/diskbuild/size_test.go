package diskbuild_test

import (
	"testing"

	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{name: "empty is automatic", in: "", want: 0},
		{name: "bare number is MiB", in: "512", want: 512 << 20},
		{name: "G suffix", in: "8G", want: 8 << 30},
		{name: "GiB suffix", in: "8GiB", want: 8 << 30},
		{name: "GB suffix is binary too", in: "8GB", want: 8 << 30},
		{name: "M suffix", in: "20480M", want: 20480 << 20},
		{name: "K suffix lower case", in: "1024k", want: 1 << 20},
		{name: "T suffix", in: "1T", want: 1 << 40},
		{name: "spaces", in: " 4 G ", want: 4 << 30},
		{name: "unknown unit", in: "8X", wantErr: true},
		{name: "fraction", in: "1.5G", wantErr: true},
		{name: "negative", in: "-1G", wantErr: true},
		{name: "no number", in: "G", wantErr: true},
		{name: "overflow", in: "99999999999T", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := diskbuild.ParseSize(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSize(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}
