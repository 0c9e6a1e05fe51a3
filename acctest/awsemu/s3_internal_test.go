package awsemu

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func TestAWSChunkedDecodes(t *testing.T) {
	framed := "5;chunk-signature=ab\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
	for name, r := range map[string]io.Reader{
		"whole":        strings.NewReader(framed),
		"byte by byte": iotest.OneByteReader(strings.NewReader(framed)),
	} {
		got, err := io.ReadAll(&awsChunked{br: bufio.NewReader(r)})
		if err != nil || string(got) != "hello world" {
			t.Errorf("%s: decoded %q, %v; want %q", name, got, err, "hello world")
		}
	}
}

func TestAWSChunkedRejectsBadFraming(t *testing.T) {
	for name, framed := range map[string]string{
		"bad size":   "zz\r\nhello\r\n0\r\n",
		"torn data":  "a\r\nhello",
		"no header":  "",
		"no newline": "5",
	} {
		if got, err := io.ReadAll(&awsChunked{br: bufio.NewReader(strings.NewReader(framed))}); err == nil {
			t.Errorf("%s: decoded %q without an error", name, got)
		}
	}
}

func TestObjectFileIsUnlinked(t *testing.T) {
	o, err := newObject(strings.NewReader("abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if o.size != 6 || o.etag != `"e80b5017098950fc58aad83c8c14978e"` {
		t.Errorf("object size %d etag %s, want 6 and the MD5 of abcdef", o.size, o.etag)
	}
	c, err := concatObjects([]*object{o, o})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, err := c.ReadAt(buf, 4); n != 4 || err != nil || string(buf) != "efab" {
		t.Errorf("ReadAt(4) = %d %q %v, want efab", n, buf[:n], err)
	}
	if _, err := os.Stat(c.f.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("object file %s is still linked (%v); it must vanish with the object", c.f.Name(), err)
	}
}
