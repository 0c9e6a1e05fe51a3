package diskbuild_test

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// TestGeneratedDataDocumented keeps the documented GeneratedData struct
// (the docs' partial is generated from it) and the keys Prepare announces
// in step.
func TestGeneratedDataDocumented(t *testing.T) {
	typ := reflect.TypeFor[diskbuild.GeneratedData]()
	var documented []string
	for i := range typ.NumField() {
		documented = append(documented, typ.Field(i).Tag.Get("mapstructure"))
	}
	if diff := cmp.Diff(diskbuild.GeneratedDataKeys(), documented); diff != "" {
		t.Errorf("GeneratedData fields differ from GeneratedDataKeys (-keys +documented):\n%s", diff)
	}
}
