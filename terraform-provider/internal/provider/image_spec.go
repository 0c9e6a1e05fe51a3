package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	awspub "github.com/elemental-suite/elemental/internal/publish/aws"
	gcppub "github.com/elemental-suite/elemental/internal/publish/gcp"
)

// listInto sets *dst to the elements of v: nil for a null list, an
// empty non-nil slice for an empty one (ElementsAs leaves nil there).
func listInto(ctx context.Context, v types.List, dst *[]string) error {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	err := diagErr(v.ElementsAs(ctx, dst, false))
	if *dst == nil {
		*dst = []string{}
	}
	return err
}

// optBoolPtr is nil for a null value.
func optBoolPtr(v types.Bool) *bool {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	b := v.ValueBool()
	return &b
}

func toAWSSpec(ctx context.Context, m imageModel, suite string) (awspub.Spec, error) {
	a := m.AWS
	var regions []string
	spec := awspub.Spec{
		Description: a.Description.ValueString(), Architecture: architecture(m.Platform.ValueString(), "arm64", "x86_64"),
		BootMode: a.BootMode.ValueString(), ENASupport: optBoolPtr(a.ENASupport),
		IMDSSupport: a.IMDSSupport.ValueString(), TPMSupport: a.TPMSupport.ValueString(), UEFIData: a.UEFIData.ValueString(),
		RootDeviceName: a.RootDeviceName.ValueString(), VolumeType: a.VolumeType.ValueString(),
		VolumeSizeGiB: int32(a.VolumeSize.ValueInt64()), DeleteOnTermination: a.DeleteOnTerm.IsNull() || a.DeleteOnTerm.ValueBool(),
		Encrypted: a.Encrypted.ValueBool(), KMSKeyID: a.KMSKeyID.ValueString(), ParentSnapshotID: a.ParentSnap.ValueString(),
		RegionKMSKeyIDs: nilIfEmpty(stringMap(ctx, a.RegionKMSKeyIDs)), SkipSaveBuildRegion: a.SkipBuildRegion.ValueBool(),
		ImportMethod: a.ImportMethod.ValueString(), S3Bucket: a.S3Bucket.ValueString(),
		UploadConcurrency: int(a.Concurrency.ValueInt64()),
		Tags:              stringMap(ctx, a.Tags),
		// The name belongs to this build ID: an AMI of that name is a
		// leftover of the same build (e.g. after drift), so replace it.
		ForceDeregister: true, ForceDeleteSnapshot: true,
		Source: m.Source.ValueString(), SourceDigest: m.Digest.ValueString(), SuiteVersion: suite,
		Provenance: map[string]string{"elemental:build": m.ID.ValueString()},
	}
	if s := a.SriovNetSupport.ValueString(); s != "" {
		on := s == "simple"
		spec.SriovSupport = &on
	}
	spec.SnapshotTags = spec.Tags
	if !a.SnapshotTags.IsNull() {
		spec.SnapshotTags = stringMap(ctx, a.SnapshotTags)
	}
	if a.Public.ValueBool() {
		spec.LaunchGroups = []string{"all"}
	}
	if a.SnapshotPublic.ValueBool() {
		spec.SnapshotGroups = []string{"all"}
	}
	errs := []error{listInto(ctx, a.Regions, &regions), listInto(ctx, a.ShareAccounts, &spec.LaunchUsers),
		listInto(ctx, a.OrgARNs, &spec.OrgARNs), listInto(ctx, a.OUARNs, &spec.OUARNs),
		listInto(ctx, a.SnapshotAccounts, &spec.SnapshotUsers)}
	var err error
	spec.DeprecateAt, err = parseTime(a.DeprecateAt, "aws.deprecate_at")
	errs = append(errs, err)
	spec.RequestTimeout, err = parseDuration(a.RequestTimeout, "aws.request_timeout")
	errs = append(errs, err)
	spec.SnapshotTimeout, err = parseDuration(a.SnapshotTimeout, "aws.snapshot_timeout")
	errs = append(errs, err)
	if known(a.DeregProtection) {
		var p deregProtectionModel
		errs = append(errs, diagErr(a.DeregProtection.As(ctx, &p, basetypes.ObjectAsOptions{})))
		spec.DeregistrationProtection, spec.ProtectionCooldown = p.Enabled.ValueBool(), p.WithCooldown.ValueBool()
	}
	if err := errors.Join(errs...); err != nil {
		return awspub.Spec{}, err
	}
	if len(regions) == 0 {
		return awspub.Spec{}, errNoRegion
	}
	spec.Region, spec.Regions = regions[0], regions[1:]
	// As in packer-plugin-amazon, the first region's entry of
	// region_kms_key_ids wins over kms_key_id for the snapshot built there.
	if k := spec.RegionKMSKeyIDs[spec.Region]; k != "" {
		spec.KMSKeyID = k
	}
	spec.Name = artifactName(a.Name, "elemental", m.ID.ValueString())
	return spec, nil
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func toGCPSpec(ctx context.Context, m imageModel, defProject, suite string) (gcppub.Spec, error) {
	g := m.GCP
	spec := gcppub.Spec{
		ProjectID: valueOr(g.Project, defProject), Bucket: g.Bucket.ValueString(), ObjectName: g.ObjectName.ValueString(),
		SkipClean: g.SkipClean.ValueBool(), GzipLevel: int(g.CompressionLevel.ValueInt64()),
		ImageName: artifactName(g.ImageName, "elemental", m.ID.ValueString()), Family: g.Family.ValueString(),
		Description: g.Description.ValueString(), Labels: stringMap(ctx, g.Labels),
		Architecture: architecture(m.Platform.ValueString(), gcppub.ArchARM64, gcppub.ArchX86_64),
		Source:       m.Source.ValueString(), SourceDigest: m.Digest.ValueString(), SuiteVersion: suite,
		Provenance: map[string]string{"elemental-build": m.ID.ValueString()},
	}
	var errs []error
	for _, t := range []struct {
		v    types.String
		name string
		dst  *time.Time
	}{{g.DeprecateAt, "gcp.deprecate_at", &spec.DeprecateAt}, {g.ObsoleteAt, "gcp.obsolete_at", &spec.ObsoleteAt},
		{g.DeleteAt, "gcp.delete_at", &spec.DeleteAt}} {
		var err error
		*t.dst, err = parseTime(t.v, t.name)
		errs = append(errs, err)
	}
	errs = append(errs, listInto(ctx, g.GuestOSFeatures, &spec.GuestOSFeatures),
		listInto(ctx, g.StorageLocations, &spec.StorageLocations), listInto(ctx, g.Licenses, &spec.Licenses))
	if known(g.UploadChunkSize) {
		n, err := chunkSize(g.UploadChunkSize.ValueString())
		if err != nil {
			err = errors.New("gcp.upload_chunk_size: " + err.Error())
		}
		spec.ChunkSize = n
		errs = append(errs, err)
	}
	st, err := shieldedState(ctx, g.Shielded)
	spec.ShieldedInitialState = st
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return spec, err
	}
	return spec, spec.Validate()
}

// shieldedState decodes gcp.shielded_instance_initial_state.
func shieldedState(ctx context.Context, v types.Object) (*gcppub.ShieldedState, error) {
	if !known(v) {
		return nil, nil
	}
	var m shieldedModel
	if err := diagErr(v.As(ctx, &m, basetypes.ObjectAsOptions{})); err != nil {
		return nil, err
	}
	st := &gcppub.ShieldedState{}
	var errs []error
	if known(m.PK) {
		b, err := pemOrBase64(m.PK.ValueString())
		if err != nil {
			err = errors.New("gcp.shielded_instance_initial_state.pk: " + err.Error())
		}
		st.PK = b
		errs = append(errs, err)
	}
	for _, l := range []struct {
		name string
		v    types.List
		dst  *[][]byte
	}{{"keks", m.KEKs, &st.KEKs}, {"dbs", m.DBs, &st.DBs}, {"dbxs", m.DBXs, &st.DBXs}} {
		var vals []string
		errs = append(errs, listInto(ctx, l.v, &vals))
		for _, s := range vals {
			b, err := pemOrBase64(s)
			if err != nil {
				errs = append(errs, errors.New("gcp.shielded_instance_initial_state."+l.name+": "+err.Error()))
				continue
			}
			*l.dst = append(*l.dst, b)
		}
	}
	return st, errors.Join(errs...)
}

// parseDuration parses a duration attribute (the validators bound it); a
// null or empty value is zero, the publisher's default.
func parseDuration(v types.String, what string) (time.Duration, error) {
	if v.IsNull() || v.ValueString() == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v.ValueString())
	if err != nil {
		return 0, fmt.Errorf("%s: want a duration such as 5m: %w", what, err)
	}
	return d, nil
}
