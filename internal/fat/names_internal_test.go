package fat

import (
	"strings"
	"testing"
)

func TestMakeShortName(t *testing.T) {
	tests := []struct {
		name     string
		long     string
		existing []string // short names already in the directory, 11-byte form
		want     string
		wantLFN  bool
	}{
		{name: "upper 8.3 stays short", long: "BOOTX64.EFI", want: "BOOTX64 EFI"},
		{name: "upper no ext", long: "EFI", want: "EFI        "},
		{name: "lower 8.3 keeps alias", long: "grub.cfg", want: "GRUB    CFG", wantLFN: true},
		{name: "8-char base", long: "loopback.mod", want: "LOOPBACKMOD", wantLFN: true},
		{name: "mixed case", long: "MokManager.efi", want: "MOKMAN~1EFI", wantLFN: true},
		{name: "long upper", long: "ELEMENTAL", want: "ELEMEN~1   ", wantLFN: true},
		{name: "dash kept", long: "x86_64-efi", want: "X86_64~1   ", wantLFN: true},
		{name: "leading dot", long: ".hidden", want: "HIDDEN~1   ", wantLFN: true},
		{name: "two dots", long: "initrd.img.gz", want: "INITRD~1GZ ", wantLFN: true},
		{name: "replaced char", long: "a+b.txt", want: "A_B~1   TXT", wantLFN: true},
		{name: "long ext", long: "abc.defg", want: "ABC~1   DEF", wantLFN: true},
		{name: "non-ascii", long: "é.txt", want: "_~1     TXT", wantLFN: true},
		{name: "upper with lower ext", long: "README.md", want: "README  MD ", wantLFN: true},
		{name: "second tail", long: "ELEMENTAL2", existing: []string{"ELEMEN~1   "}, want: "ELEMEN~2   ", wantLFN: true},
		{name: "space", long: "a b", want: "AB~1       ", wantLFN: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			taken := map[shortName]bool{}
			for _, s := range tc.existing {
				taken[shortName([]byte(s))] = true
			}
			got, lfn, err := makeShortName(tc.long, func(s shortName) bool { return taken[s] })
			if err != nil {
				t.Fatal(err)
			}
			if string(got[:]) != tc.want || lfn != tc.wantLFN {
				t.Errorf("makeShortName(%q) = %q, lfn=%v; want %q, lfn=%v", tc.long, got[:], lfn, tc.want, tc.wantLFN)
			}
		})
	}
}

// After ~1…~9 the alias takes a hex hash of the long name, deterministically.
func TestShortNameHashTail(t *testing.T) {
	taken := map[shortName]bool{}
	exists := func(s shortName) bool { return taken[s] }
	for i := 1; i <= 9; i++ {
		taken[shortName([]byte("LONGFI~"+string(rune('0'+i))+"TXT"))] = true
	}
	a, _, _ := makeShortName("longfilename.txt", exists)
	b, _, _ := makeShortName("longfilename.txt", exists)
	if a != b || !strings.HasPrefix(string(a[:]), "LO") || string(a[6:11]) != "~1TXT" {
		t.Fatalf("hash tail alias = %q, %q", a[:], b[:])
	}
	taken[a] = true
	if c, _, _ := makeShortName("longfilename.txt", exists); c == a {
		t.Errorf("taken alias %q returned again", c[:])
	}
}

func TestLongNameSlots(t *testing.T) {
	sn := shortName([]byte("GRUB    CFG"))
	slots := longNameSlots("grub.cfg", sn)
	if len(slots) != 1 {
		t.Fatalf("%d slots, want 1", len(slots))
	}
	s := slots[0]
	if s[0] != 0x41 || s[11] != attrLongName || s[13] != sn.checksum() {
		t.Errorf("slot header % x", s[:14])
	}
	// "grub.cfg" then NUL then 0xFFFF padding.
	if s[1] != 'g' || s[14+2*3] != 0 || s[14+2*4] != 0xFF {
		t.Errorf("slot characters % x", s[:])
	}
	if n := len(longNameSlots(strings.Repeat("x", 27), sn)); n != 3 {
		t.Errorf("27 characters take %d slots, want 3", n)
	}
}

// FuzzShortName checks that every name checkName accepts gets an alias
// made of valid upper-case short-name bytes, without panicking.
func FuzzShortName(f *testing.F) {
	for _, s := range []string{"grub.cfg", ".a", "a b.c d", "é", "ABCDEFGH.IJK", "x.y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		taken := map[shortName]bool{}
		for range 12 {
			sn, _, err := makeShortName(name, func(s shortName) bool { return taken[s] })
			if err != nil {
				return
			}
			for _, c := range sn {
				if c < 0x20 || (c >= 'a' && c <= 'z') || strings.IndexByte(`"*+,./:;<=>?[\]|`, c) >= 0 {
					t.Fatalf("alias %q of %q has byte %q", sn[:], name, c)
				}
			}
			if taken[sn] {
				t.Fatalf("alias %q of %q returned twice", sn[:], name)
			}
			taken[sn] = true
		}
	})
}
