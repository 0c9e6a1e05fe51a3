//go:build tools

// Package tools pins the documentation generator, apart from the main
// module so its dependencies stay out of the provider's build.
package tools

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)
