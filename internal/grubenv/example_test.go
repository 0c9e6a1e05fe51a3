package grubenv_test

import (
	"fmt"

	"github.com/elemental-suite/elemental/internal/grubenv"
)

func ExampleEnv_MarshalBinary() {
	var env grubenv.Env
	env.Set("state_label", "COS_STATE")
	env.Set("default_fallback", "0 1")
	block, err := env.MarshalBinary()
	if err != nil {
		panic(err)
	}
	back, _ := grubenv.Parse(block)
	v, _ := back.Get("default_fallback")
	fmt.Println(len(block), back.Keys(), v)
	// Output: 1024 [state_label default_fallback] 0 1
}
