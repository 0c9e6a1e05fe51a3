package provider

import (
	"context"
	"reflect"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
)

// importedKey marks, in private state, a resource that was imported and
// not yet applied: its inputs are null in state, and the first apply
// adopts the artifacts instead of replacing them.
const importedKey = "imported"

const replaceDesc = "Changing this value builds a new image (the resource is replaced)."

// replaceString is RequiresReplace, except for an imported resource whose
// inputs are being filled in from configuration for the first time.
func replaceString() planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !adopting(ctx, req.Private, req.StateValue.IsNull())
	}, replaceDesc, replaceDesc)
}

func replaceBool() planmodifier.Bool {
	return boolplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.BoolRequest, resp *boolplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !adopting(ctx, req.Private, req.StateValue.IsNull())
	}, replaceDesc, replaceDesc)
}

func replaceInt64() planmodifier.Int64 {
	return int64planmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !adopting(ctx, req.Private, req.StateValue.IsNull())
	}, replaceDesc, replaceDesc)
}

func replaceList() planmodifier.List {
	return listplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.ListRequest, resp *listplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !adopting(ctx, req.Private, req.StateValue.IsNull())
	}, replaceDesc, replaceDesc)
}

func replaceObject() planmodifier.Object {
	return objectplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.ObjectRequest, resp *objectplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !adopting(ctx, req.Private, req.StateValue.IsNull())
	}, replaceDesc, replaceDesc)
}

// keyGetter is the private state of a request (privatestate.ProviderData).
type keyGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// adopting is true when the prior value is null because the resource was
// imported: the apply adopts, it does not rebuild.
func adopting(ctx context.Context, private keyGetter, stateNull bool) bool {
	if !stateNull || private == nil || reflect.ValueOf(private).IsNil() {
		return false
	}
	v, _ := private.GetKey(ctx, importedKey)
	return len(v) > 0
}

// replaceConfiguredString replaces when a configured value changes; a
// null configuration keeps the computed value.
func replaceConfiguredString() planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !req.ConfigValue.IsNull() && !adopting(ctx, req.Private, req.StateValue.IsNull())
	}, replaceDesc, replaceDesc)
}
