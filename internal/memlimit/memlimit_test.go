package memlimit_test

import (
	"runtime/debug"
	"testing"

	"github.com/elemental-suite/elemental/internal/memlimit"
)

func TestApply(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	cases := []struct {
		name, env string
		want      bool
		limit     int64
	}{
		{name: "unset", env: "", want: true, limit: memlimit.Default},
		{name: "GOMEMLIMIT wins", env: "1GiB", want: false, limit: old},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			debug.SetMemoryLimit(old)
			t.Setenv("GOMEMLIMIT", c.env)
			if got := memlimit.Apply(); got != c.want {
				t.Errorf("Apply() = %v, want %v", got, c.want)
			}
			if got := debug.SetMemoryLimit(-1); got != c.limit {
				t.Errorf("limit %d, want %d", got, c.limit)
			}
		})
	}
}
