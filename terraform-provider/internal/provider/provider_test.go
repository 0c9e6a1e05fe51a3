package provider_test

import (
	"context"
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/elemental-suite/elemental/terraform-provider/internal/provider"
)

// testAccProtoV6ProviderFactories serves the provider in-process; the
// real terraform CLI (TF_ACC_TERRAFORM_PATH or PATH) drives it.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"elemental": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// versionChecks: write-only attributes need Terraform 1.11.
var versionChecks = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)}

func testAccPreCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (needs the terraform CLI)")
	}
}

func TestProviderSchemaValid(t *testing.T) {
	srv, err := providerserver.NewProtocol6WithError(provider.New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	for _, name := range []string{"elemental_image", "elemental_node"} {
		if resp.ResourceSchemas[name] == nil {
			t.Errorf("resource %s missing", name)
		}
	}
	if resp.DataSourceSchemas["elemental_derivative"] == nil {
		t.Error("data source elemental_derivative missing")
	}
}
