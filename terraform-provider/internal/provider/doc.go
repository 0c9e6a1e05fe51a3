// Package provider is the Terraform front end of the Elemental image suite:
// the provider configuration, the elemental_derivative data source and the
// elemental_image and elemental_node resources.
//
// It only maps Terraform values to the core's types: builds go through
// internal/installer, publishing through internal/publish/aws and
// internal/publish/gcp, and the SSH work on running nodes through
// terraform-provider/internal/node. Defaults and validation of build
// settings live in the core.
package provider
