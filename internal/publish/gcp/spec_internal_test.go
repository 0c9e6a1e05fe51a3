package gcp

import (
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	compute "google.golang.org/api/compute/v1"
)

func TestSanitizeLabelValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "sha256 digest", in: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", want: "sha256-0123456789abcdef0123456789abcdef"},
		{name: "image reference", in: "Registry.example:5000/Elemental/OS:v1.2", want: "registry-example-5000-elemental-os-v1-2"},
		{name: "already valid", in: "team_os-1", want: "team_os-1"},
		{name: "too long", in: strings.Repeat("a", 80), want: strings.Repeat("a", 63)},
		{name: "unicode", in: "größe", want: "gr--e"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SanitizeLabelValue(tc.in)
			if got != tc.want || !labelValueRe.MatchString(got) {
				t.Errorf("SanitizeLabelValue(%q) = %q, want %q (valid)", tc.in, got, tc.want)
			}
		})
	}
}

func TestSanitizeLabelKey(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "valid", in: "source-digest", want: "source-digest"},
		{name: "digit first", in: "1st", want: "k-1st"},
		{name: "empty", in: "", want: "k-"},
		{name: "upper and dots", in: "org.opencontainers.Image", want: "org-opencontainers-image"},
		{name: "too long", in: "9" + strings.Repeat("b", 70), want: "k-9" + strings.Repeat("b", 60)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SanitizeLabelKey(tc.in)
			if got != tc.want || !labelKeyRe.MatchString(got) {
				t.Errorf("SanitizeLabelKey(%q) = %q, want %q (valid)", tc.in, got, tc.want)
			}
		})
	}
}

func validSpec() Spec {
	return Spec{ProjectID: "p", Bucket: "b", ImageName: "img-1"}
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		mutate  func(*Spec)
		wantErr []string // substrings, all of them
	}{
		{name: "minimal", mutate: func(*Spec) {}},
		{name: "empty", mutate: func(s *Spec) { *s = Spec{} }, wantErr: []string{"project id is empty", "bucket is empty", "image name"}},
		{name: "bad names", mutate: func(s *Spec) { s.ImageName, s.Family = "Img", "-fam" }, wantErr: []string{`image name "Img"`, `image family "-fam"`}},
		{name: "bad architecture", mutate: func(s *Spec) { s.Architecture = "amd64" }, wantErr: []string{`architecture "amd64"`}},
		{name: "bad chunk size", mutate: func(s *Spec) { s.ChunkSize = 1000 }, wantErr: []string{"chunk size 1000"}},
		{name: "bad label", mutate: func(s *Spec) { s.Labels = map[string]string{"Team": "x"} }, wantErr: []string{`label key "Team"`}},
		{name: "provenance collides", mutate: func(s *Spec) {
			s.Labels = map[string]string{"source": "a"}
			s.Provenance = map[string]string{"source": "b"}
		}, wantErr: []string{"collides"}},
		{name: "schedule out of order", mutate: func(s *Spec) { s.DeprecateAt, s.DeleteAt = now.Add(time.Hour), now }, wantErr: []string{"delete time"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.mutate(&s)
			err := s.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate = %v, want ErrInvalidSpec", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s := validSpec().withDefaults()
	if s.ObjectName != "img-1.tar.gz" || !cmp.Equal(s.GuestOSFeatures, []string{"UEFI_COMPATIBLE"}) || s.ChunkSize != 16<<20 {
		t.Errorf("defaults: %+v", s)
	}
	none := validSpec()
	none.GuestOSFeatures = []string{}
	if got := none.withDefaults().GuestOSFeatures; len(got) != 0 {
		t.Errorf("explicitly empty guest OS features became %v", got)
	}
}

func TestDeprecation(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	h := time.Hour
	tests := []struct {
		name          string
		dep, obs, del time.Time
		want          *compute.DeprecationStatus
	}{
		{name: "none", want: nil},
		{name: "future only: informational, state ACTIVE", dep: now.Add(h), obs: now.Add(2 * h), del: now.Add(3 * h),
			want: &compute.DeprecationStatus{State: "ACTIVE", Deprecated: "2026-06-01T13:00:00Z", Obsolete: "2026-06-01T14:00:00Z", Deleted: "2026-06-01T15:00:00Z"}},
		{name: "deprecation due exactly now", dep: now, obs: now.Add(h),
			want: &compute.DeprecationStatus{State: "DEPRECATED", Deprecated: "2026-06-01T12:00:00Z", Obsolete: "2026-06-01T13:00:00Z"}},
		{name: "obsolete passed", dep: now.Add(-2 * h), obs: now.Add(-h), del: now.Add(h),
			want: &compute.DeprecationStatus{State: "OBSOLETE", Deprecated: "2026-06-01T10:00:00Z", Obsolete: "2026-06-01T11:00:00Z", Deleted: "2026-06-01T13:00:00Z"}},
		{name: "delete passed", del: now.Add(-h),
			want: &compute.DeprecationStatus{State: "DELETED", Deleted: "2026-06-01T11:00:00Z"}},
		{name: "other zone is written in UTC", dep: now.Add(h).In(time.FixedZone("x", 3600)),
			want: &compute.DeprecationStatus{State: "ACTIVE", Deprecated: "2026-06-01T13:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			s.DeprecateAt, s.ObsoleteAt, s.DeleteAt = tc.dep, tc.obs, tc.del
			if diff := cmp.Diff(tc.want, s.deprecation(now)); diff != "" {
				t.Errorf("deprecation (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyBuffer(t *testing.T) {
	der := SelfSignedCertificate(t)
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	tests := []struct {
		name     string
		in       []byte
		wantType string
		wantData []byte
	}{
		{name: "DER certificate", in: der, wantType: "X509", wantData: der},
		{name: "PEM certificate is sent as DER", in: pemCert, wantType: "X509", wantData: der},
		{name: "signature list", in: []byte{0x26, 0x16, 0xc4, 0xc1}, wantType: "BIN", wantData: []byte{0x26, 0x16, 0xc4, 0xc1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := keyBuffer(tc.in)
			if got.FileType != tc.wantType || got.Content != base64.StdEncoding.EncodeToString(tc.wantData) {
				t.Errorf("keyBuffer = %s, %d chars; want %s", got.FileType, len(got.Content), tc.wantType)
			}
		})
	}
}

func TestWithAPIPath(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "host only", in: "http://127.0.0.1:4443", want: "http://127.0.0.1:4443/compute/v1/"},
		{name: "host with slash", in: "http://127.0.0.1:4443/", want: "http://127.0.0.1:4443/compute/v1/"},
		{name: "full path kept", in: "https://compute.example/compute/beta", want: "https://compute.example/compute/beta/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := withAPIPath(tc.in, "/compute/v1/"); got != tc.want {
				t.Errorf("withAPIPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCredentialsType(t *testing.T) {
	tests := []struct {
		name, json string
		wantErr    bool
	}{
		{name: "service account", json: `{"type":"service_account"}`},
		{name: "authorized user", json: `{"type":"authorized_user"}`},
		{name: "unknown", json: `{"type":"api_key"}`, wantErr: true},
		{name: "not json", json: `x`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := credentialsType([]byte(tc.json)); (err != nil) != tc.wantErr {
				t.Errorf("credentialsType(%s) error %v, want error %v", tc.json, err, tc.wantErr)
			}
		})
	}
}

func TestProvenanceLabels(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want map[string]string
	}{
		{
			name: "fields win over provenance keys, suite version defaults to the build's",
			spec: Spec{Source: "reg/os:v1", Provenance: map[string]string{LabelSource: "old", "x": "y"}},
			want: map[string]string{LabelSource: "reg/os:v1", "x": "y", LabelSuiteVersion: BuildVersion()},
		},
		{
			name: "every field",
			spec: Spec{Source: "s", SourceDigest: "sha256:00", SuiteVersion: "1.2.3"},
			want: map[string]string{LabelSource: "s", LabelSourceDigest: "sha256:00", LabelSuiteVersion: "1.2.3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, tc.spec.withDefaults().provenance()); d != "" {
				t.Errorf("provenance (-want +got):\n%s", d)
			}
		})
	}
}
