package awsemu

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// snap finds a snapshot of the region. Callers hold e.mu.
func (e *Emulator) snap(region, id string) (*snapshot, *ec2Err) {
	if !strings.HasPrefix(id, "snap-") {
		return nil, errCode("InvalidSnapshotID.Malformed", "Invalid id: %q (expecting \"snap-...\")", id)
	}
	s, ok := e.snaps[id]
	if !ok || s.region != region {
		return nil, errCode("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	return s, nil
}

func (e *Emulator) describeSnapshots(region string, f url.Values) (*ec2Response, *ec2Err) {
	ids := list(f, "SnapshotId")
	for _, id := range ids {
		if _, err := e.snap(region, id); err != nil {
			return nil, err
		}
	}
	owners := list(f, "Owner")
	fl := filters(f, "Filter")
	now := time.Now()
	resp := &ec2Response{Snapshots: []snapshotXML{}}
	for _, s := range e.snaps {
		st := s.status(now)
		switch {
		case s.region != region,
			len(ids) > 0 && !contains(ids, s.id),
			len(owners) > 0 && !contains(owners, "self") && !contains(owners, AccountID),
			!filterOK(fl, "snapshot-id", s.id), !filterOK(fl, "status", st),
			!filterOK(fl, "description", s.description), !filterOK(fl, "encrypted", strconv.FormatBool(s.encrypted)),
			!e.tagFilter(s.id, fl):
			continue
		}
		progress := "100%"
		if st == "pending" {
			progress = "0%"
		}
		resp.Snapshots = append(resp.Snapshots, snapshotXML{
			SnapshotID: s.id, VolumeID: "vol-ffffffff", Status: st, StartTime: timestamp(s.started), Progress: progress,
			OwnerID: AccountID, VolumeSize: s.volumeSize, Description: s.description, Encrypted: s.encrypted,
			KmsKeyID: s.kmsKey, StorageTier: "standard", Tags: e.tagsXML(s.id),
		})
	}
	sort.Slice(resp.Snapshots, func(a, b int) bool { return resp.Snapshots[a].SnapshotID < resp.Snapshots[b].SnapshotID })
	return resp, nil
}

func (e *Emulator) deleteSnapshot(region string, f url.Values) (*ec2Response, *ec2Err) {
	s, err := e.snap(region, f.Get("SnapshotId"))
	if err != nil {
		return nil, err
	}
	if ami := e.snapshotInUse(s.id); ami != "" {
		return nil, errCode("InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", s.id, ami)
	}
	delete(e.snaps, s.id)
	delete(e.tags, s.id)
	return ok(), nil
}

func (e *Emulator) modifySnapshotAttribute(region string, f url.Values) (*ec2Response, *ec2Err) {
	s, err := e.snap(region, f.Get("SnapshotId"))
	if err != nil {
		return nil, err
	}
	changes, err := permChanges(f, "CreateVolumePermission")
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		if c.org != "" || c.unit != "" {
			return nil, badParam("snapshots cannot be shared with organizations")
		}
		setMember(&s.users, c.user, c.add)
		setMember(&s.groups, c.group, c.add)
	}
	return ok(), nil
}

func (e *Emulator) describeSnapshotAttribute(region string, f url.Values) (*ec2Response, *ec2Err) {
	s, err := e.snap(region, f.Get("SnapshotId"))
	if err != nil {
		return nil, err
	}
	resp := &ec2Response{SnapshotID: s.id}
	switch attr := f.Get("Attribute"); attr {
	case "createVolumePermission":
		resp.CreateVolumePerms = []launchPermXML{}
		for _, u := range sortedKeys(s.users) {
			resp.CreateVolumePerms = append(resp.CreateVolumePerms, launchPermXML{UserID: u})
		}
		for _, g := range sortedKeys(s.groups) {
			resp.CreateVolumePerms = append(resp.CreateVolumePerms, launchPermXML{Group: g})
		}
	case "productCodes":
	default:
		return nil, badParam("Value (%s) for parameter attribute is invalid", attr)
	}
	return resp, nil
}

// resourceRegion returns the region of an image, snapshot or import task,
// or "" when it does not exist. Callers hold e.mu.
func (e *Emulator) resourceRegion(id string) string {
	if im, ok := e.images[id]; ok {
		return im.region
	}
	if s, ok := e.snaps[id]; ok {
		return s.region
	}
	if t, ok := e.tasks[id]; ok {
		return t.region
	}
	return ""
}

func (e *Emulator) createTags(region string, f url.Values) (*ec2Response, *ec2Err) {
	ids := list(f, "ResourceId")
	tags := map[string]string{}
	for _, t := range members(f, "Tag") {
		if strings.HasPrefix(strings.ToLower(t["Key"]), "aws:") {
			return nil, badParam("Tag keys starting with 'aws:' are reserved for internal use")
		}
		tags[t["Key"]] = t["Value"]
	}
	if len(ids) == 0 || len(tags) == 0 {
		return nil, errCode("MissingParameter", "resource ids and tags are required")
	}
	for _, id := range ids {
		if e.resourceRegion(id) != region {
			return nil, errCode("InvalidID", "The ID '%s' is not valid", id)
		}
		if n := len(keysOf(e.tags[id])) + len(tags); n > 50 {
			return nil, errCode("TagLimitExceeded", "the maximum number of tags for %s is 50", id)
		}
	}
	for _, id := range ids {
		e.setTags(id, tags)
	}
	return ok(), nil
}

func (e *Emulator) describeTags(region string, f url.Values) (*ec2Response, *ec2Err) {
	fl := filters(f, "Filter")
	resp := &ec2Response{TagDescs: []tagDescXML{}}
	for id, tags := range e.tags {
		if e.resourceRegion(id) != region || !filterOK(fl, "resource-id", id) || !filterOK(fl, "resource-type", resourceType(id)) {
			continue
		}
		for k, v := range tags {
			if filterOK(fl, "key", k) && filterOK(fl, "value", v) {
				resp.TagDescs = append(resp.TagDescs, tagDescXML{id, resourceType(id), k, v})
			}
		}
	}
	sort.Slice(resp.TagDescs, func(a, b int) bool {
		x, y := resp.TagDescs[a], resp.TagDescs[b]
		return x.ResourceID < y.ResourceID || x.ResourceID == y.ResourceID && x.Key < y.Key
	})
	return resp, nil
}

func (e *Emulator) describeRegions(_ string, f url.Values) (*ec2Response, *ec2Err) {
	names := list(f, "RegionName")
	resp := &ec2Response{Regions: []regionXML{}}
	for _, r := range e.regions {
		if len(names) == 0 || contains(names, r) {
			resp.Regions = append(resp.Regions, regionXML{r, fmt.Sprintf("ec2.%s.amazonaws.com", r), "opt-in-not-required"})
		}
	}
	for _, n := range names {
		if !contains(e.regions, n) {
			return nil, errCode("InvalidParameterValue", "Invalid region name %s", n)
		}
	}
	return resp, nil
}
