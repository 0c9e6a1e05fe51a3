package provider

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	awspub "github.com/elemental-suite/elemental/internal/publish/aws"
	gcppub "github.com/elemental-suite/elemental/internal/publish/gcp"
)

// stringCheck is a string attribute validator: check runs on a known
// value, and its error is reported at the attribute under summary. One
// type serves every format the schema checks, so each format is only its
// check function.
type stringCheck struct {
	desc, summary string
	check         func(string) error
}

var _ validator.String = stringCheck{}

func (v stringCheck) Description(context.Context) string { return v.desc }

func (v stringCheck) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, fmt.Sprintf("%s: %v", req.Path, err))
	}
}

// rfc3339Time accepts an RFC 3339 time such as 2027-01-01T00:00:00Z.
func rfc3339Time() stringCheck {
	const want = "an RFC 3339 time such as 2027-01-01T00:00:00Z"
	return stringCheck{desc: want, summary: "Invalid time", check: func(s string) error {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return fmt.Errorf("want %s: %w", want, err)
		}
		return nil
	}}
}

// base64Content accepts standard base64.
func base64Content() stringCheck {
	return stringCheck{desc: "base64 (standard encoding)", summary: "Invalid base64", check: func(s string) error {
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return fmt.Errorf("not base64: %w", err)
		}
		return nil
	}}
}

// chunkSizeString accepts a size that is a multiple of 256 KiB up to
// 1 GiB, as resumable uploads take.
func chunkSizeString() stringCheck {
	return stringCheck{desc: "a size that is a multiple of 256KiB up to 1GiB", summary: "Invalid chunk size",
		check: func(s string) error { _, err := chunkSize(s); return err }}
}

func chunkSize(s string) (int, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, err
	}
	if n <= 0 || n%(256<<10) != 0 || n > 1<<30 {
		return 0, fmt.Errorf("%q: want a multiple of 256KiB up to 1GiB", s)
	}
	return int(n), nil
}

// durationString accepts a duration such as 5m or 3h (time.ParseDuration)
// of at least min, at most max (when set) and a multiple of unit (when
// set); want says so in its errors.
func durationString(min, max, unit time.Duration, want string) stringCheck {
	return stringCheck{desc: want, summary: "Invalid duration", check: func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d < min || (max > 0 && d > max) || (unit > 0 && d%unit != 0) {
			return fmt.Errorf("%q: want %s", s, want)
		}
		return nil
	}}
}

// pemOrBase64Content accepts a PEM block or base64 content.
func pemOrBase64Content() stringCheck {
	return stringCheck{desc: "a PEM certificate or base64 content", summary: "Invalid key",
		check: func(s string) error { _, err := pemOrBase64(s); return err }}
}

// pemOrBase64 returns PEM text as is and decodes anything else as base64.
func pemOrBase64(s string) ([]byte, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "-----BEGIN ") {
		return []byte(s), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("want a PEM certificate or base64 content: %w", err)
	}
	return b, nil
}

var _ resource.ResourceWithValidateConfig = (*imageResource)(nil)

// ValidateConfig checks the aws and gcp settings that depend on each
// other, each error at the attribute it names.
func (r *imageResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var a *awsImageModel
	var g *gcpImageModel
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("aws"), &a)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("gcp"), &g)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, p := range checkAWS(ctx, a) {
		resp.Diagnostics.AddAttributeError(path.Root("aws").AtName(p.attr), "Invalid aws setting", "aws."+p.attr+": "+p.msg)
	}
	var retain types.Bool
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("retain_on_destroy"), &retain)...)
	if a != nil && cooldown(ctx, a) && !retain.ValueBool() && !retain.IsUnknown() {
		resp.Diagnostics.AddAttributeWarning(path.Root("aws").AtName("deregistration_protection").AtName("with_cooldown"),
			"Destroy will fail for 24 hours", "aws.deregistration_protection.with_cooldown: the protection stays for 24 hours "+
				"after it is lifted, so destroying or replacing this image fails until then; set retain_on_destroy = true to keep the AMIs instead")
	}
	for _, p := range checkGCP(ctx, g) {
		resp.Diagnostics.AddAttributeError(path.Root("gcp").AtName(p.attr), "Invalid gcp setting", "gcp."+p.attr+": "+p.msg)
	}
}

// cooldown reports whether the AMIs get deregistration protection with a
// cooldown.
func cooldown(ctx context.Context, a *awsImageModel) bool {
	if !known(a.DeregProtection) {
		return false
	}
	var p deregProtectionModel
	if a.DeregProtection.As(ctx, &p, basetypes.ObjectAsOptions{}).HasError() {
		return false
	}
	return p.Enabled.ValueBool() && p.WithCooldown.ValueBool()
}

// problem is a configuration error at an attribute of a block.
type problem struct{ attr, msg string }

// known reports whether v is set and known.
func known(v interface {
	IsNull() bool
	IsUnknown() bool
}) bool {
	return !v.IsNull() && !v.IsUnknown()
}

// checkAWS returns the aws block's cross-attribute problems; unknown
// values are left to apply time.
func checkAWS(ctx context.Context, a *awsImageModel) []problem {
	if a == nil {
		return nil
	}
	var ps []problem
	add := func(attr, format string, args ...any) { ps = append(ps, problem{attr, fmt.Sprintf(format, args...)}) }
	encrypted, encKnown := a.Encrypted.ValueBool(), !a.Encrypted.IsUnknown()
	boot := a.BootMode.ValueString()
	if known(a.TPMSupport) && known(a.BootMode) && boot != "uefi" {
		add("tpm_support", "needs boot_mode uefi, not %s", boot)
	}
	if known(a.UEFIData) && boot == "legacy-bios" {
		add("uefi_data", "needs boot_mode uefi or uefi-preferred, not legacy-bios")
	}
	if known(a.KMSKeyID) && encKnown && !encrypted {
		add("kms_key_id", "needs encrypted = true")
	}
	if encKnown && encrypted && a.Public.ValueBool() {
		add("public", "an encrypted AMI cannot be public")
	}
	if encKnown && encrypted && a.SnapshotPublic.ValueBool() {
		add("snapshot_public", "an encrypted snapshot cannot be public")
	}
	method := a.ImportMethod.ValueString()
	if method == awspub.ImportS3 && a.S3Bucket.IsNull() {
		add("s3_bucket", "required with import_method = %q", awspub.ImportS3)
	}
	if known(a.ParentSnap) && method == awspub.ImportS3 {
		add("parent_snapshot_id", "needs import_method %s (ImportSnapshot has no parent)", awspub.ImportEBSDirect)
	}
	if !known(a.Regions) {
		return ps
	}
	var regions []string
	_ = a.Regions.ElementsAs(ctx, &regions, false)
	if len(regions) > 0 && method != awspub.ImportS3 && !a.ImportMethod.IsUnknown() {
		attr, key := "kms_key_id", a.KMSKeyID
		if k := stringMap(ctx, a.RegionKMSKeyIDs)[regions[0]]; k != "" {
			attr, key = "region_kms_key_ids", types.StringValue(k)
		}
		if known(key) && kmsKeyRE.MatchString(key.ValueString()) && !kmsKeyARNRE.MatchString(key.ValueString()) {
			add(attr, "%q: the ebs-direct import (StartSnapshot) needs a key ARN in %s, arn:aws:kms:REGION:ACCOUNT:key/ID",
				key.ValueString(), regions[0])
		}
	}
	if a.SkipBuildRegion.ValueBool() && len(regions) < 2 {
		add("skip_save_build_region", "needs a second region in regions to copy to")
	}
	if known(a.RegionKMSKeyIDs) {
		keys := stringMap(ctx, a.RegionKMSKeyIDs)
		for _, r := range sortedKeys(keys) {
			if !slices.Contains(regions, r) {
				add("region_kms_key_ids", "%s is not one of regions", r)
			}
			if encKnown && !encrypted {
				add("region_kms_key_ids", "%s: needs encrypted = true", r)
			}
		}
	}
	return ps
}

// checkGCP returns the gcp block's problems the attribute validators
// cannot see: image_name, family and labels as the publisher checks them,
// and the end-of-life times in order.
func checkGCP(ctx context.Context, g *gcpImageModel) []problem {
	if g == nil {
		return nil
	}
	ps := checkGCPNames(ctx, g)
	var last time.Time
	lastName := ""
	for _, s := range []struct {
		attr string
		v    types.String
	}{{"deprecate_at", g.DeprecateAt}, {"obsolete_at", g.ObsoleteAt}, {"delete_at", g.DeleteAt}} {
		if !known(s.v) {
			continue
		}
		t, err := time.Parse(time.RFC3339, s.v.ValueString())
		if err != nil {
			continue // the attribute validator reports it
		}
		if !last.IsZero() && t.Before(last) {
			ps = append(ps, problem{s.attr, fmt.Sprintf("%s is before %s %s", s.v.ValueString(), lastName, last.Format(time.RFC3339))})
		}
		last, lastName = t, s.attr
	}
	return ps
}

// checkGCPNames runs the publisher's validation on the known names and
// labels (the build ID stands in as twelve hex digits) and files each
// problem under its attribute.
func checkGCPNames(ctx context.Context, g *gcpImageModel) []problem {
	if g.ImageName.IsUnknown() || g.Family.IsUnknown() || g.Labels.IsUnknown() {
		return nil
	}
	spec := gcppub.Spec{ProjectID: "p", Bucket: "b", ImageName: artifactName(g.ImageName, "elemental", "0123456789ab"),
		Family: g.Family.ValueString(), Labels: stringMap(ctx, g.Labels)}
	err := spec.Validate()
	if err == nil {
		return nil
	}
	var ps []problem
	for _, line := range strings.Split(strings.TrimPrefix(err.Error(), gcppub.ErrInvalidSpec.Error()+": "), "\n") {
		attr := "labels"
		switch {
		case strings.HasPrefix(line, "image name"):
			attr, line = "image_name", strings.Replace(line, "-0123456789ab", "-<id>", 1)
		case strings.HasPrefix(line, "image family"):
			attr = "family"
		}
		ps = append(ps, problem{attr, line})
	}
	return ps
}

// errNoRegion is returned by toAWSSpec for an aws block without regions.
var errNoRegion = errors.New("aws.regions: at least one region")

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
