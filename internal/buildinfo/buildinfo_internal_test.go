package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestVersion(t *testing.T) {
	cases := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{name: "main module, tagged", bi: debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v1.2.3"}}, want: "v1.2.3"},
		{name: "main module, local build", bi: debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}}, want: "devel"},
		{name: "dependency", bi: debug.BuildInfo{Main: debug.Module{Path: "example.com/x"},
			Deps: []*debug.Module{{Path: modulePath, Version: "v0.4.0"}}}, want: "v0.4.0"},
		{name: "replaced dependency", bi: debug.BuildInfo{Main: debug.Module{Path: "example.com/x"},
			Deps: []*debug.Module{{Path: modulePath, Version: "v0.4.0", Replace: &debug.Module{Version: "v0.4.1"}}}}, want: "v0.4.1"},
		{name: "absent", bi: debug.BuildInfo{Main: debug.Module{Path: "example.com/x"}}, want: "devel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := version(&c.bi); got != c.want {
				t.Errorf("version = %q, want %q", got, c.want)
			}
		})
	}
}
