package provider_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/elemental-suite/elemental/internal/cosign/cosigntest"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// TestAccCosignPublicKey: elemental_derivative and elemental_image with
// cosign_public_key refuse unsigned and wrongly signed derivatives and
// accept one signed by the key.
func TestAccCosignPublicKey(t *testing.T) {
	testAccPreCheck(t)
	key, other := cosigntest.NewKey(t), cosigntest.NewKey(t)
	host := imagetest.Registry(t)
	img, err := imagetest.Image(imagetest.Derivative(2, "A")...)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	signed, unsigned, wrong := host+"/cosign/signed", host+"/cosign/unsigned", host+"/cosign/wrong"
	for _, repo := range []string{signed, unsigned, wrong} {
		imagetest.Push(t, repo+":v1", img)
	}
	cosigntest.Push(t, signed, digest, key.SignDigest(t, signed, digest))
	cosigntest.Push(t, wrong, digest, other.SignDigest(t, wrong, digest))
	ds := func(repo string) string {
		return fmt.Sprintf("data \"elemental_derivative\" \"d\" {\n  source = %q\n  cosign_public_key = %q\n}\n", repo+":v1", key.PublicPEM)
	}
	image := func(repo string) string {
		return fmt.Sprintf("resource \"elemental_image\" \"i\" {\n  source = %q\n  cosign_public_key = %q\n  disk { directory = %q }\n}\n",
			repo+":v1", key.PublicPEM, filepath.Join(t.TempDir(), "out"))
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: ds(unsigned), ExpectError: regexp.MustCompile(`(?s)verifying cosign signature of .*/cosign/unsigned:v1.*with key\s+cosign_public_key.*sha256-` + digest.Hex + `\.sig:\s+no\s+signature`)},
			{Config: ds(wrong), ExpectError: regexp.MustCompile(`(?s)signature\s+does\s+not\s+verify\s+with\s+the\s+key`)},
			{Config: image(unsigned), ExpectError: regexp.MustCompile(`(?s)no\s+signature\s+\(tag\s+not\s+found\)`)},
			{Config: ds(signed), ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.elemental_derivative.d", tfjsonpath.New("digest"), knownvalue.StringExact(digest.String())),
			}},
			{Config: image(signed), ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("elemental_image.i", tfjsonpath.New("digest"), knownvalue.StringExact(digest.String())),
			}},
		},
	})
}
