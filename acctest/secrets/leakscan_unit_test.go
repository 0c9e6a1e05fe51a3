package secrets

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planted are the secrets the unit tests hide: a password with characters
// that JSON and URLs escape, and a multi-line PEM key.
var planted = []secret{
	{name: "password", value: "pw-7f3a9c\"e1/b+d&x=44c2"},
	{name: "pem", value: "-----BEGIN OPENSSH PRIVATE KEY-----\n" +
		"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n" +
		"QyNTUxOQAAACBx9Xq3u0ZQ2a8Yb6Wc4dJk0yT1rLmN5oPqRsTuVwXyZAAAAJgK3h4lCt4e\n" +
		"-----END OPENSSH PRIVATE KEY-----\n"},
}

func TestScanFindsPlantedForms(t *testing.T) {
	pw, pem := planted[0].value, planted[1].value
	jsonOf := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	tests := []struct {
		name, data, want string // want: the secret that must be found, "" for none
	}{
		{name: "raw", data: "log: password=" + pw + " done", want: "password"},
		{name: "json escaped", data: jsonOf(map[string]string{"password": pw}), want: "password"},
		{name: "url escaped", data: "https://u:" + url.QueryEscape(pw) + "@host/", want: "password"},
		{name: "base64 at offset 0", data: base64.StdEncoding.EncodeToString([]byte(pw)), want: "password"},
		{name: "base64 at offset 1", data: base64.StdEncoding.EncodeToString([]byte("x" + pw + "y")), want: "password"},
		{name: "base64 at offset 2", data: base64.StdEncoding.EncodeToString([]byte("xy" + pw)), want: "password"},
		{name: "base64 in a basic auth header", data: "Authorization: Basic " +
			base64.StdEncoding.EncodeToString([]byte("user:"+pw)), want: "password"},
		{name: "base64url", data: base64.URLEncoding.EncodeToString([]byte("ab" + pw + "cd")), want: "password"},
		{name: "base64 of a json document", data: base64.StdEncoding.EncodeToString([]byte(jsonOf(map[string]string{"k": pw}))), want: "password"},
		{name: "pem raw", data: "key:\n" + pem, want: "pem"},
		{name: "pem json escaped", data: jsonOf(map[string]string{"private_key": pem}), want: "pem"},
		{name: "pem one line of it", data: "debug: " + strings.Split(pem, "\n")[2], want: "pem"},
		{name: "pem base64", data: base64.StdEncoding.EncodeToString([]byte("{" + pem + "}")), want: "pem"},
		{name: "clean", data: "password=<sensitive> private_key=(sensitive value) " + pw[:8] + " " + pem[:40]},
	}
	ns := needles(planted)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			found := scanBytes(tc.name, 0, []byte(tc.data), ns)
			if tc.want == "" {
				if len(found) != 0 {
					t.Fatalf("clean data reported %v", found)
				}
				return
			}
			for _, f := range found {
				if f.secret == tc.want {
					return
				}
			}
			t.Fatalf("%s not found in %q (found %v)", tc.want, tc.data, found)
		})
	}
}

// A line every key of its kind shares is not a finding alone; the rest of
// the key still is.
func TestScanSkipsCommonLines(t *testing.T) {
	pem := planted[1]
	lines := strings.Split(pem.value, "\n")
	pem.common = []string{lines[1]}
	ns := needles([]secret{pem})
	if found := scanBytes("header", 0, []byte("x "+lines[1]+" y"), ns); len(found) != 0 {
		t.Errorf("a common line was reported: %v", found)
	}
	if found := scanBytes("body", 0, []byte("x "+lines[2]+" y"), ns); len(found) == 0 {
		t.Error("a key line was not found")
	}
}

func TestScanReaderAcrossChunks(t *testing.T) {
	pw := planted[0].value
	ns := needles(planted)
	for _, at := range []int{0, 4<<20 - 10, 4<<20 - 1, 4 << 20, 9<<20 - 3} {
		data := make([]byte, 10<<20)
		copy(data[at:], pw)
		found, err := scanReader("mem", 0, bytes.NewReader(data), ns)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) == 0 || found[0].offset != int64(at) {
			t.Errorf("secret at %d: found %v", at, found)
		}
	}
}

// plantTree writes the password into a gzip file, a zip archive (as in
// Terraform's saved plans) and 2 GiB into a sparse 3 GiB disk, and a clean
// file; it returns the places the scan must report.
func plantTree(t *testing.T, dir string) (disk string, want map[string]bool) {
	t.Helper()
	pw := planted[0].value
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("layer " + pw)) //nolint:errcheck // bytes.Buffer
	zw.Close()
	write("cache/layer.gz", gz.Bytes())
	var zb bytes.Buffer
	za := zip.NewWriter(&zb)
	w, _ := za.Create("tfplan")
	w.Write([]byte(`{"variables":{"p":"` + pw + `"}}`)) //nolint:errcheck // bytes.Buffer
	za.Close()
	write("plan.tfplan", zb.Bytes())
	disk = filepath.Join(dir, "out", "disk.raw")
	write("out/disk.raw", nil)
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(pw), 2<<30); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(3 << 30); err != nil {
		t.Fatal(err)
	}
	write("clean.txt", []byte("nothing here"))
	return disk, map[string]bool{
		filepath.Join(dir, "cache/layer.gz") + " (gunzip)": true,
		filepath.Join(dir, "plan.tfplan") + " [tfplan]":    true,
		disk: true,
	}
}

func TestScanTreeFiles(t *testing.T) {
	dir := t.TempDir()
	disk, want := plantTree(t, dir)
	found, err := scanTree(dir, needles(planted))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		if !want[f.where] {
			t.Errorf("unexpected finding %v", f)
		}
		if f.where == disk && f.offset != 2<<30 {
			t.Errorf("disk finding at %d, want %d", f.offset, 2<<30)
		}
		delete(want, f.where)
	}
	for w := range want {
		t.Errorf("planted secret in %s not found", w)
	}
	if found, err := scanTree(filepath.Join(dir, "missing"), needles(planted)); err != nil || len(found) != 0 {
		t.Errorf("missing tree: %v %v", found, err)
	}
}
