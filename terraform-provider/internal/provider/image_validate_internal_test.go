package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
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
