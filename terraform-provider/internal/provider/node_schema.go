package provider

import (
	"context"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// nodeModel is the state of elemental_node.
type nodeModel struct {
	ID               types.String    `tfsdk:"id"`
	Host             types.String    `tfsdk:"host"`
	Image            types.String    `tfsdk:"image"`
	Platform         types.String    `tfsdk:"platform"`
	Digest           types.String    `tfsdk:"digest"`
	PullRepository   types.String    `tfsdk:"pull_repository"`
	InsecureRegistry types.Bool      `tfsdk:"insecure_registry"`
	UpgradeRecovery  types.Bool      `tfsdk:"upgrade_recovery"`
	Reboot           types.Bool      `tfsdk:"reboot"`
	ResetTrigger     types.String    `tfsdk:"reset_trigger"`
	SSH              *nodeSSHModel   `tfsdk:"ssh"`
	OnDestroy        *onDestroyModel `tfsdk:"on_destroy"`
	Timeouts         timeouts.Value  `tfsdk:"timeouts"`
	ActiveDigest     types.String    `tfsdk:"active_digest"`
	ActiveSource     types.String    `tfsdk:"active_source"`
	PassiveDigests   types.List      `tfsdk:"passive_digests"`
	Generation       types.String    `tfsdk:"generation"`
	BootID           types.String    `tfsdk:"boot_id"`
}

type sshEndpointModel struct {
	Port                  types.Int64  `tfsdk:"port"`
	User                  types.String `tfsdk:"user"`
	PrivateKeyWO          types.String `tfsdk:"private_key_wo"`
	PrivateKeyFile        types.String `tfsdk:"private_key_file"`
	PasswordWO            types.String `tfsdk:"password_wo"`
	HostKey               types.String `tfsdk:"host_key"`
	KnownHostsFile        types.String `tfsdk:"known_hosts_file"`
	InsecureIgnoreHostKey types.Bool   `tfsdk:"insecure_ignore_host_key"`
}

type nodeSSHModel struct {
	sshEndpointModel
	Agent          types.Bool    `tfsdk:"agent"`
	ConnectTimeout types.String  `tfsdk:"connect_timeout"`
	Bastion        *bastionModel `tfsdk:"bastion"`
}

type bastionModel struct {
	Host types.String `tfsdk:"host"`
	sshEndpointModel
}

type onDestroyModel struct {
	Reset           types.Bool `tfsdk:"reset"`
	ResetPersistent types.Bool `tfsdk:"reset_persistent"`
	ResetOEM        types.Bool `tfsdk:"reset_oem"`
}

func endpointAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"port": schema.Int64Attribute{Optional: true, Validators: []validator.Int64{int64validator.Between(1, 65535)},
			MarkdownDescription: "SSH port (default: the provider's `ssh.port`, else 22)."},
		"user": schema.StringAttribute{Optional: true,
			MarkdownDescription: "SSH user (default: the provider's `ssh.user`, else `root`). Non-root users run the toolkit with `sudo -n`."},
		"private_key_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
			MarkdownDescription: "Private key (PEM or OpenSSH), write-only: never stored in state, so it is used by create and " +
				"update only. Reads and `on_destroy` use `private_key_file`, the agent or the provider's `ssh` block."},
		"private_key_file": schema.StringAttribute{Optional: true,
			MarkdownDescription: "Path of a private key file, read at every operation."},
		"password_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
			MarkdownDescription: "Password, write-only (create and update only)."},
		"host_key": schema.StringAttribute{Optional: true,
			MarkdownDescription: "The node's public host key (`ssh-ed25519 AAAA…`, as in `/etc/ssh/ssh_host_ed25519_key.pub`)."},
		"known_hosts_file": schema.StringAttribute{Optional: true,
			MarkdownDescription: "known_hosts file to verify the host key against (default: the provider's `ssh.known_hosts_file`)."},
		"insecure_ignore_host_key": schema.BoolAttribute{Optional: true,
			MarkdownDescription: "Skip host key verification. Default false: without `host_key` or `known_hosts_file` the connection is refused."},
	}
}

func (r *nodeResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	sshAttrs := endpointAttributes()
	sshAttrs["agent"] = schema.BoolAttribute{Optional: true,
		MarkdownDescription: "Authenticate with the SSH agent at `SSH_AUTH_SOCK` (default: the provider's `ssh.agent`)."}
	sshAttrs["connect_timeout"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "Timeout of one connection attempt, e.g. `30s` (default 30s)."}
	bastionAttrs := endpointAttributes()
	bastionAttrs["host"] = schema.StringAttribute{Optional: true, MarkdownDescription: "Bastion host (required in the block)."}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The OS image of a running Elemental node, managed over SSH. When the node's active image " +
			"differs from `image` (resolved to a digest at plan time), apply runs `elemental upgrade` with the pinned digest, " +
			"reboots the node gracefully, waits for a new boot and checks that the new image is active. Read reports the " +
			"image the node runs, so an out-of-band upgrade shows as drift. Changing `reset_trigger` resets the node " +
			"through its recovery system.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The host.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"host": schema.StringAttribute{Required: true, MarkdownDescription: "Address of the node.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"image": schema.StringAttribute{Required: true,
				Validators: []validator.String{stringvalidator.RegexMatches(registryRef, "must be a registry reference (repo:tag or repo@sha256:…)")},
				MarkdownDescription: "Registry reference of the derivative the node should run, e.g. `registry.example/os:v2` " +
					"or `elemental_image.v2.source`. The node pulls it by digest, so it needs access to the registry."},
			"platform": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("linux/amd64"),
				Validators:          []validator.String{stringvalidator.OneOf("linux/amd64", "linux/arm64")},
				MarkdownDescription: "Platform of the node, to pick the image from a multi-platform index."},
			"digest": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Digest `image` resolved to at plan time: the one the node is upgraded to."},
			"pull_repository": schema.StringAttribute{Optional: true,
				MarkdownDescription: "Repository the node pulls from, when it reaches the registry under another name than " +
					"Terraform does (a mirror, another address). The node still pulls exactly `digest`."},
			"insecure_registry": schema.BoolAttribute{Optional: true,
				MarkdownDescription: "Let the node pull over plain HTTP or without TLS verification (`--tls-verify=false`)."},
			"upgrade_recovery": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Upgrade the recovery system too."},
			"reboot": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Reboot into the new image and verify it (default true). When false the new image is active from the next boot."},
			"reset_trigger": schema.StringAttribute{Optional: true,
				MarkdownDescription: "Any change of this value resets the node (`elemental reset` from recovery), then brings it to `image`."},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true,
				CreateDescription: "Default 30m (pull, upgrade, reboot).", ReadDescription: "How long Read retries an unreachable node before it warns and keeps the state (default 2m)."}),
			"active_digest":   schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the active image, as the node reports it."},
			"active_source":   schema.StringAttribute{Computed: true, MarkdownDescription: "Source of the active image, as the node records it."},
			"passive_digests": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Digests of the passive snapshots, newest first."},
			"generation": schema.StringAttribute{Computed: true, MarkdownDescription: "Toolkit generation of the node, `v1` or `v2`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"boot_id": schema.StringAttribute{Computed: true, MarkdownDescription: "Boot ID of the node's current boot."},
		},
		Blocks: map[string]schema.Block{
			"ssh": schema.SingleNestedBlock{
				MarkdownDescription: "How to reach the node. Host keys are verified: set `host_key` or `known_hosts_file`.",
				Validators:          []validator.Object{objectvalidator.IsRequired()},
				Attributes:          sshAttrs,
				Blocks: map[string]schema.Block{
					"bastion": schema.SingleNestedBlock{
						MarkdownDescription: "Jump host; unset values are taken from the node's `ssh` block.",
						Validators:          []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("host"))},
						Attributes:          bastionAttrs,
					},
				},
			},
			"on_destroy": schema.SingleNestedBlock{
				MarkdownDescription: "What destroying the resource does to the node (by default nothing: the node keeps running). " +
					"Apply changes to this block before `terraform destroy` can see them.",
				Attributes: map[string]schema.Attribute{
					"reset":            schema.BoolAttribute{Optional: true, MarkdownDescription: "Reset the node through recovery."},
					"reset_persistent": schema.BoolAttribute{Optional: true, MarkdownDescription: "Also wipe the persistent partition."},
					"reset_oem":        schema.BoolAttribute{Optional: true, MarkdownDescription: "Also wipe the OEM partition."},
				},
			},
		},
	}
}

// registryRef matches registry references ([host[:port]/]repo[:tag][@digest]).
var registryRef = regexp.MustCompile(`^([A-Za-z0-9.-]+(:[0-9]+)?/)?[a-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)
