package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/elemental-suite/elemental/terraform-provider/internal/node"
)

// Default timeouts of elemental_node. Create and update cover the pull,
// the upgrade, and a reboot on slow hardware.
const (
	DefaultNodeApplyTimeout  = 30 * time.Minute
	DefaultNodeReadTimeout   = 2 * time.Minute
	DefaultNodeDeleteTimeout = 30 * time.Minute
)

var (
	_ resource.Resource                = (*nodeResource)(nil)
	_ resource.ResourceWithConfigure   = (*nodeResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*nodeResource)(nil)
	_ resource.ResourceWithImportState = (*nodeResource)(nil)
)

type nodeResource struct {
	data *providerData
	// pollInterval overrides node.Node's (tests).
	pollInterval time.Duration
}

// NewNodeResource returns the elemental_node resource.
func NewNodeResource() resource.Resource { return &nodeResource{} }

func (r *nodeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_node"
}

func (r *nodeResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan resolves image to a digest: the planned active digest. When
// the node runs something else (drift or a new tag) the plan is an
// update, and what the upgrade changes becomes unknown.
func (r *nodeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan nodeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	digest, _, err := planDigest(ctx, r.data.resolve, plan.Image, plan.Platform, types.StringNull())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("image"), "Unable to resolve image", err.Error())
		return
	}
	plan.Digest, plan.ActiveDigest = digest, digest
	if plan.ID.IsUnknown() && !plan.Host.IsUnknown() {
		plan.ID = plan.Host
	}
	if !req.State.Raw.IsNull() {
		var state nodeModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if !state.ActiveDigest.Equal(digest) || !state.ResetTrigger.Equal(plan.ResetTrigger) {
			plan.BootID, plan.ActiveSource = types.StringUnknown(), types.StringUnknown()
			plan.PassiveDigests = types.ListUnknown(types.StringType)
		}
		if state.Generation.IsNull() { // just imported: the apply reads it
			plan.Generation = types.StringUnknown()
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *nodeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan nodeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, DefaultNodeApplyTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.apply(ctx, &plan, req.Config, false, timeout)...)
	if !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

func (r *nodeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state nodeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	reset := !plan.ResetTrigger.Equal(state.ResetTrigger)
	timeout, d := plan.Timeouts.Update(ctx, DefaultNodeApplyTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.apply(ctx, &plan, req.Config, reset, timeout)...)
	if !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// apply is Create and Update (each passes its own timeout: the planned id
// is already known on create, so it cannot tell them apart): reset when
// asked, bring the node to the planned digest, and record what it runs.
func (r *nodeResource) apply(ctx context.Context, m *nodeModel, config tfsdk.Config, reset bool, timeout time.Duration) diag.Diagnostics {
	var diags diag.Diagnostics
	var cfg nodeModel
	diags.Append(config.Get(ctx, &cfg)...)
	if diags.HasError() {
		return diags
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := r.node(ctx, m.Host.ValueString(), cfg.SSH)
	if err != nil {
		diags.AddAttributeError(path.Root("ssh"), "Invalid SSH settings", err.Error())
		return diags
	}
	if reset {
		if _, err := n.Reset(ctx, false, false); err != nil {
			diags.AddError("Unable to reset node", timeoutHint(ctx, err, timeout))
			return diags
		}
	}
	if m.Digest.IsUnknown() {
		if m.Digest, _, err = planDigest(ctx, r.data.resolve, m.Image, m.Platform, types.StringNull()); err != nil {
			diags.AddError("Unable to resolve image", err.Error())
			return diags
		}
	}
	st, err := n.Apply(ctx, node.Upgrade{Ref: valueOr(m.PullRepository, repository(m.Image.ValueString())),
		Digest: m.Digest.ValueString(), Recovery: m.UpgradeRecovery.ValueBool(), Reboot: m.Reboot.ValueBool(),
		InsecureRegistry: m.InsecureRegistry.ValueBool()})
	if err != nil {
		diags.AddError("Unable to upgrade node", timeoutHint(ctx, err, timeout))
		return diags
	}
	m.ID = m.Host
	diags.Append(fromStatus(ctx, m, st)...)
	return diags
}

// repository strips the tag and digest of a reference.
func repository(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.Context().Name()
}

func fromStatus(ctx context.Context, m *nodeModel, st *node.Status) diag.Diagnostics {
	m.ActiveDigest = types.StringValue(st.ActiveDigest)
	m.ActiveSource = types.StringValue(st.ActiveSource)
	m.Generation = types.StringValue(st.Generation)
	m.BootID = types.StringValue(st.BootID)
	passive := st.PassiveDigests
	if passive == nil {
		passive = []string{}
	}
	var diags diag.Diagnostics
	m.PassiveDigests, diags = types.ListValueFrom(ctx, types.StringType, passive)
	return diags
}

func (r *nodeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m nodeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	imported := m.Host.IsNull() // just imported by host
	if imported {
		m.Host = m.ID
	}
	timeout, diags := m.Timeouts.Read(ctx, DefaultNodeReadTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := r.readStatus(ctx, m)
	switch {
	case errors.Is(err, node.ErrHostKey):
		resp.Diagnostics.AddError("Node host key verification failed", err.Error())
		return
	case err != nil && imported && m.SSH == nil:
		resp.Diagnostics.AddWarning("Imported node not read yet",
			fmt.Sprintf("%s was imported without SSH settings, so it is read by the next apply, with the configuration's ssh block: %v", m.Host.ValueString(), err))
	case err != nil:
		resp.Diagnostics.AddWarning("Node not reachable: keeping the last known state",
			fmt.Sprintf("Could not read %s within %s, so its state was not refreshed: %v", m.Host.ValueString(), timeout, err))
	default:
		resp.Diagnostics.Append(fromStatus(ctx, &m, st)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *nodeResource) readStatus(ctx context.Context, m nodeModel) (*node.Status, error) {
	n, err := r.node(ctx, m.Host.ValueString(), m.SSH)
	if err != nil {
		return nil, err
	}
	return n.StatusRetry(ctx)
}

func (r *nodeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m nodeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.OnDestroy == nil || !m.OnDestroy.Reset.ValueBool() {
		return
	}
	timeout, diags := m.Timeouts.Delete(ctx, DefaultNodeDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := r.node(ctx, m.Host.ValueString(), m.SSH)
	if err != nil {
		resp.Diagnostics.AddError("Invalid SSH settings", err.Error())
		return
	}
	if _, err := n.Reset(ctx, m.OnDestroy.ResetPersistent.ValueBool(), m.OnDestroy.ResetOEM.ValueBool()); err != nil {
		resp.Diagnostics.AddError("Unable to reset node", timeoutHint(ctx, err, timeout))
	}
}

// ImportState takes the host; the next apply fills in the rest.
func (r *nodeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host"), req.ID)...)
}

// node builds the SSH settings from the block (write-only values only in
// Create and Update, where it comes from the configuration) and the
// provider's defaults.
func (r *nodeResource) node(ctx context.Context, host string, s *nodeSSHModel) (*node.Node, error) {
	var def sshDefaults
	if r.data != nil {
		def = r.data.SSH
	}
	if s == nil {
		s = &nodeSSHModel{}
	}
	cfg, err := endpointConfig(host, s.sshEndpointModel, def)
	if err != nil {
		return nil, err
	}
	cfg.Agent = s.Agent.ValueBool() || (s.Agent.IsNull() && def.Agent)
	if v := s.ConnectTimeout.ValueString(); v != "" {
		if cfg.ConnectTimeout, err = time.ParseDuration(v); err != nil {
			return nil, fmt.Errorf("connect_timeout: %w", err)
		}
	}
	if b := s.Bastion; b != nil {
		bc, err := endpointConfig(b.Host.ValueString(), b.sshEndpointModel, def)
		if err != nil {
			return nil, fmt.Errorf("bastion: %w", err)
		}
		bc.Agent, bc.ConnectTimeout = cfg.Agent, cfg.ConnectTimeout
		inheritEndpoint(&bc, cfg)
		cfg.Bastion = &bc
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &node.Node{Config: cfg, PollInterval: r.pollInterval,
		Progress: func(msg string) { tflog.Info(ctx, msg, map[string]any{"host": host}) }}
	return n, nil
}

// inheritEndpoint fills the bastion's unset credentials from the node's.
func inheritEndpoint(b *node.Config, from node.Config) {
	if b.User == "" {
		b.User = from.User
	}
	if len(b.PrivateKey) == 0 && b.Password == "" {
		b.PrivateKey, b.Password = from.PrivateKey, from.Password
	}
}

func endpointConfig(host string, e sshEndpointModel, def sshDefaults) (node.Config, error) {
	cfg := node.Config{Host: host, User: valueOr(e.User, def.User), Port: int(def.Port),
		HostKey: e.HostKey.ValueString(), KnownHostsFile: valueOr(e.KnownHostsFile, def.KnownHostsFile),
		InsecureIgnoreHostKey: e.InsecureIgnoreHostKey.ValueBool(), Password: e.PasswordWO.ValueString()}
	if !e.Port.IsNull() {
		cfg.Port = int(e.Port.ValueInt64())
	}
	switch {
	case e.PrivateKeyWO.ValueString() != "":
		cfg.PrivateKey = []byte(e.PrivateKeyWO.ValueString())
	case e.PrivateKeyFile.ValueString() != "":
		b, err := os.ReadFile(e.PrivateKeyFile.ValueString())
		if err != nil {
			return cfg, fmt.Errorf("reading private_key_file: %w", err)
		}
		cfg.PrivateKey = b
	case def.PrivateKey != "":
		cfg.PrivateKey = []byte(def.PrivateKey)
	}
	return cfg, nil
}
