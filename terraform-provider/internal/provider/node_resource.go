package provider

import "github.com/hashicorp/terraform-plugin-framework/resource"

// NewNodeResource returns the elemental_node resource.
func NewNodeResource() resource.Resource { return nil }
