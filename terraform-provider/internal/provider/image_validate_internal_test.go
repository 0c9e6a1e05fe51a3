package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// imageConfig is an elemental_image configuration: every attribute null
// but those in set, and in the aws block those in aws (no block when nil).
func imageConfig(t *testing.T, set, aws map[string]tftypes.Value) tfsdk.Config {
	t.Helper()
	ctx := context.Background()
	resp := &resource.SchemaResponse{}
	(&imageResource{}).Schema(ctx, resource.SchemaRequest{}, resp)
	typ := resp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	obj := func(typ tftypes.Object, set map[string]tftypes.Value) tftypes.Value {
		vals := map[string]tftypes.Value{}
		for name, at := range typ.AttributeTypes {
			vals[name] = tftypes.NewValue(at, nil)
			if v, ok := set[name]; ok {
				vals[name] = v
			}
		}
		return tftypes.NewValue(typ, vals)
	}
	if aws != nil {
		set["aws"] = obj(typ.AttributeTypes["aws"].(tftypes.Object), aws)
	}
	return tfsdk.Config{Schema: resp.Schema, Raw: obj(typ, set)}
}

func TestCooldownWarning(t *testing.T) {
	awsType := func() tftypes.Object {
		resp := &resource.SchemaResponse{}
		(&imageResource{}).Schema(context.Background(), resource.SchemaRequest{}, resp)
		return resp.Schema.Type().TerraformType(context.Background()).(tftypes.Object).AttributeTypes["aws"].(tftypes.Object)
	}()
	protection := func(cooldown bool) tftypes.Value {
		pt := awsType.AttributeTypes["deregistration_protection"].(tftypes.Object)
		return tftypes.NewValue(pt, map[string]tftypes.Value{"enabled": tftypes.NewValue(tftypes.Bool, true),
			"with_cooldown": tftypes.NewValue(tftypes.Bool, cooldown)})
	}
	regions := tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, []tftypes.Value{tftypes.NewValue(tftypes.String, "us-east-1")})
	tests := []struct {
		name     string
		cooldown bool
		retain   bool
		warn     bool
	}{
		{name: "cooldown warns", cooldown: true, warn: true},
		{name: "cooldown with retain_on_destroy", cooldown: true, retain: true},
		{name: "no cooldown", cooldown: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := imageConfig(t, map[string]tftypes.Value{"retain_on_destroy": tftypes.NewValue(tftypes.Bool, tt.retain)},
				map[string]tftypes.Value{"regions": regions, "deregistration_protection": protection(tt.cooldown)})
			resp := &resource.ValidateConfigResponse{}
			(&imageResource{}).ValidateConfig(context.Background(), resource.ValidateConfigRequest{Config: cfg}, resp)
			if resp.Diagnostics.HasError() {
				t.Fatalf("errors: %v", resp.Diagnostics)
			}
			warned := false
			for _, d := range resp.Diagnostics.Warnings() {
				warned = warned || strings.Contains(d.Detail(), "aws.deregistration_protection.with_cooldown")
			}
			if warned != tt.warn {
				t.Errorf("warned %v, want %v: %v", warned, tt.warn, resp.Diagnostics)
			}
		})
	}
}

// TestAWSTimeoutValidators runs the schema's validators of
// aws.request_timeout and aws.snapshot_timeout: the bounds the publisher
// enforces, each error naming the attribute.
func TestAWSTimeoutValidators(t *testing.T) {
	ctx := context.Background()
	resp := &resource.SchemaResponse{}
	(&imageResource{}).Schema(ctx, resource.SchemaRequest{}, resp)
	attrs := resp.Schema.Blocks["aws"].(schema.SingleNestedBlock).Attributes
	tests := []struct {
		name, attr, value string
		want              string // detail prefix; empty means valid
	}{
		{name: "request 5m", attr: "request_timeout", value: "5m"},
		{name: "request 1ms", attr: "request_timeout", value: "1ms"},
		{name: "request zero", attr: "request_timeout", value: "0s", want: `aws.request_timeout: "0s": want a positive duration`},
		{name: "request negative", attr: "request_timeout", value: "-1m", want: `aws.request_timeout: "-1m": want a positive duration`},
		{name: "request no unit", attr: "request_timeout", value: "30", want: `aws.request_timeout: "30": want a positive duration`},
		{name: "snapshot 10m", attr: "snapshot_timeout", value: "10m"},
		{name: "snapshot 72h", attr: "snapshot_timeout", value: "72h"},
		{name: "snapshot 3h30m", attr: "snapshot_timeout", value: "3h30m"},
		{name: "snapshot 90s", attr: "snapshot_timeout", value: "90s", want: `aws.snapshot_timeout: "90s": want whole minutes from 10m to 72h`},
		{name: "snapshot 9m", attr: "snapshot_timeout", value: "9m", want: `aws.snapshot_timeout: "9m": want whole minutes`},
		{name: "snapshot 72h1m", attr: "snapshot_timeout", value: "72h1m", want: `aws.snapshot_timeout: "72h1m": want whole minutes`},
		{name: "snapshot 10m30s", attr: "snapshot_timeout", value: "10m30s", want: `aws.snapshot_timeout: "10m30s": want whole minutes`},
		{name: "snapshot words", attr: "snapshot_timeout", value: "2 hours", want: `aws.snapshot_timeout: "2 hours": want whole minutes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := attrs[tt.attr].(schema.StringAttribute)
			if !ok || len(a.Validators) == 0 {
				t.Fatalf("aws.%s: no string attribute with validators", tt.attr)
			}
			p := path.Root("aws").AtName(tt.attr)
			var got []string
			for _, v := range a.Validators {
				r := &validator.StringResponse{}
				v.ValidateString(ctx, validator.StringRequest{Path: p, ConfigValue: types.StringValue(tt.value)}, r)
				for _, d := range r.Diagnostics.Errors() {
					got = append(got, d.Detail())
				}
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("errors %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tt.want)):
				t.Errorf("errors %q, want one starting with %q", got, tt.want)
			}
		})
	}
}
