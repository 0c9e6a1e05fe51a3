package awsemu

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

var amiName = regexp.MustCompile(`^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$`)

var (
	architectures = map[string]bool{"i386": true, "x86_64": true, "arm64": true, "x86_64_mac": true, "arm64_mac": true}
	bootModes     = map[string]bool{"": true, "legacy-bios": true, "uefi": true, "uefi-preferred": true}
	volumeTypes   = map[string]bool{"": true, "standard": true, "gp2": true, "gp3": true, "io1": true, "io2": true, "st1": true, "sc1": true}
)

// image finds an image of the region. Callers hold e.mu.
func (e *Emulator) image(region, id string) (*image, *ec2Err) {
	if !strings.HasPrefix(id, "ami-") {
		return nil, errCode("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", id)
	}
	im, ok := e.images[id]
	if !ok || im.region != region {
		return nil, errCode("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	return im, nil
}

func (e *Emulator) nameTaken(region, name string) bool {
	for _, im := range e.images {
		if im.region == region && im.name == name {
			return true
		}
	}
	return false
}

func (e *Emulator) registerImage(region string, f url.Values) (*ec2Response, *ec2Err) {
	im := &image{
		region: region, name: f.Get("Name"), description: f.Get("Description"), arch: f.Get("Architecture"),
		bootMode: f.Get("BootMode"), sriov: f.Get("SriovNetSupport"), imds: f.Get("ImdsSupport"), tpm: f.Get("TpmSupport"),
		uefiData: f.Get("UefiData"), rootDevice: f.Get("RootDeviceName"), virt: f.Get("VirtualizationType"),
		ena: boolForm(f, "EnaSupport"), protection: "disabled",
	}
	if err := e.checkRegistration(im); err != nil {
		return nil, err
	}
	for _, m := range members(f, "BlockDeviceMapping") {
		b, err := e.registerBDM(region, m)
		if err != nil {
			return nil, err
		}
		im.bdms = append(im.bdms, b)
	}
	if !hasRoot(im) {
		return nil, errCode("InvalidBlockDeviceMapping", "the root device %s has no EBS snapshot mapping", im.rootDevice)
	}
	specs := tagSpecs(f)
	for rt := range specs {
		if rt != "image" {
			return nil, badParam("RegisterImage tags only the image; resource type %s is not allowed", rt)
		}
	}
	now := time.Now()
	im.id, im.created, im.readyAt = e.nextID("ami"), now, now.Add(e.delay)
	e.images[im.id] = im
	e.setTags(im.id, specs["image"])
	return &ec2Response{ImageID: im.id}, nil
}

func (e *Emulator) checkRegistration(im *image) *ec2Err {
	switch {
	case !amiName.MatchString(im.name):
		return errCode("InvalidAMIName.Malformed", "AMI name %q must be 3-128 characters of letters, numbers, ()[] ./-'@_", im.name)
	case e.nameTaken(im.region, im.name):
		return errCode("InvalidAMIName.Duplicate", "AMI name %s is already in use by an AMI", im.name)
	case im.arch == "":
		im.arch = "i386"
	case !architectures[im.arch]:
		return badParam("Value (%s) for parameter architecture is invalid", im.arch)
	}
	switch {
	case !bootModes[im.bootMode]:
		return badParam("Value (%s) for parameter bootMode is invalid", im.bootMode)
	case im.imds != "" && im.imds != "v2.0":
		return badParam("Value (%s) for parameter imdsSupport is invalid", im.imds)
	case im.tpm != "" && im.tpm != "v2.0":
		return badParam("Value (%s) for parameter tpmSupport is invalid", im.tpm)
	case im.tpm != "" && im.bootMode != "uefi":
		return badParam("NitroTPM requires the uefi boot mode")
	case im.sriov != "" && im.sriov != "simple":
		return badParam("Value (%s) for parameter sriovNetSupport is invalid", im.sriov)
	case im.virt != "" && im.virt != "hvm" && im.virt != "paravirtual":
		return badParam("Value (%s) for parameter virtualizationType is invalid", im.virt)
	case im.rootDevice == "":
		return errCode("InvalidParameterCombination", "a root device name is required with block device mappings")
	}
	if im.virt == "" {
		im.virt = "paravirtual"
	}
	return nil
}

func (e *Emulator) registerBDM(region string, m map[string]string) (bdm, *ec2Err) {
	b := bdm{device: m["DeviceName"], snapshot: m["Ebs.SnapshotId"], volumeType: m["Ebs.VolumeType"],
		deleteOnTermination: m["Ebs.DeleteOnTermination"] != "false"}
	if b.device == "" {
		return b, errCode("InvalidBlockDeviceMapping", "device name is required")
	}
	if b.snapshot == "" {
		return b, nil
	}
	s, ok := e.snaps[b.snapshot]
	if !ok || s.region != region {
		return b, errCode("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", b.snapshot)
	}
	if st := s.status(time.Now()); st != "completed" {
		return b, errCode("IncorrectState", "Snapshot '%s' is not 'completed' (it is %s)", s.id, st)
	}
	if len(s.blocks) == 0 {
		return b, badParam("snapshot %s holds no data", s.id)
	}
	if !volumeTypes[b.volumeType] {
		return b, badParam("Value (%s) for parameter volumeType is invalid", b.volumeType)
	}
	if b.volumeType == "" {
		b.volumeType = "gp2"
	}
	b.size = s.volumeSize
	if v := m["Ebs.VolumeSize"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < s.volumeSize {
			return b, errCode("InvalidBlockDeviceMapping", "Volume of size %s is smaller than snapshot '%s', expect size >= %d", v, s.id, s.volumeSize)
		}
		b.size = n
	}
	b.encrypted, b.kmsKey = s.encrypted, s.kmsKey
	return b, nil
}

func hasRoot(im *image) bool {
	for _, b := range im.bdms {
		if b.device == im.rootDevice && b.snapshot != "" {
			return true
		}
	}
	return false
}

func (e *Emulator) describeImages(region string, f url.Values) (*ec2Response, *ec2Err) {
	ids := list(f, "ImageId")
	for _, id := range ids {
		if _, err := e.image(region, id); err != nil {
			return nil, err
		}
	}
	owners := list(f, "Owner")
	fl := filters(f, "Filter")
	now := time.Now()
	resp := &ec2Response{Images: []imageXML{}}
	for _, im := range e.images {
		switch {
		case im.region != region,
			len(ids) > 0 && !contains(ids, im.id),
			len(owners) > 0 && !contains(owners, "self") && !contains(owners, AccountID),
			!filterOK(fl, "name", im.name), !filterOK(fl, "image-id", im.id),
			!filterOK(fl, "state", im.state(now)), !filterOK(fl, "architecture", im.arch),
			!e.tagFilter(im.id, fl):
			continue
		}
		resp.Images = append(resp.Images, e.imageXML(im, now))
	}
	sort.Slice(resp.Images, func(a, b int) bool { return resp.Images[a].ImageID < resp.Images[b].ImageID })
	return resp, nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func (e *Emulator) imageXML(im *image, now time.Time) imageXML {
	x := imageXML{
		ImageID: im.id, ImageLocation: AccountID + "/" + im.name, State: im.state(now), OwnerID: AccountID,
		CreationDate: timestamp(im.created), IsPublic: im.groups["all"], Architecture: im.arch, ImageType: "machine",
		Name: im.name, Description: im.description, RootDeviceType: "ebs", RootDeviceName: im.rootDevice,
		VirtualizationType: im.virt, Hypervisor: "xen", EnaSupport: im.ena, SriovNetSupport: im.sriov,
		BootMode: im.bootMode, TpmSupport: im.tpm, ImdsSupport: im.imds, DeprecationTime: im.deprecation,
		Protection: im.protection, SourceImageID: im.sourceID, SourceImageRegion: im.sourceRegion, Tags: e.tagsXML(im.id),
	}
	x.BDMs = bdmsXML(im)
	return x
}

func bdmsXML(im *image) []bdmXML {
	var out []bdmXML
	for _, b := range im.bdms {
		out = append(out, bdmXML{b.device, ebsXML{b.snapshot, b.size, b.deleteOnTermination, b.volumeType, b.encrypted, b.kmsKey}})
	}
	return out
}

func (e *Emulator) deregisterImage(region string, f url.Values) (*ec2Response, *ec2Err) {
	im, err := e.image(region, f.Get("ImageId"))
	if err != nil {
		return nil, err
	}
	if im.protection == "enabled" || im.protection == "enabled-with-cooldown" {
		return nil, &ec2Err{http.StatusBadRequest, "OperationNotPermitted",
			"Image " + im.id + " has deregistration protection enabled; disable it first"}
	}
	if time.Now().Before(im.protectedUntil) {
		return nil, &ec2Err{http.StatusBadRequest, "OperationNotPermitted",
			"Image " + im.id + " is in its deregistration protection cooldown until " + timestamp(im.protectedUntil)}
	}
	delete(e.images, im.id)
	delete(e.tags, im.id)
	if boolForm(f, "DeleteAssociatedSnapshots") {
		for _, b := range im.bdms {
			if e.snapshotInUse(b.snapshot) == "" {
				delete(e.snaps, b.snapshot)
				delete(e.tags, b.snapshot)
			}
		}
	}
	return ok(), nil
}

func (e *Emulator) copyImage(region string, f url.Values) (*ec2Response, *ec2Err) {
	srcRegion := f.Get("SourceRegion")
	src, err := e.image(srcRegion, f.Get("SourceImageId"))
	if err != nil {
		return nil, err
	}
	if token := f.Get("ClientToken"); token != "" {
		for _, im := range e.images {
			if im.clientToken == token && im.region == region {
				return &ec2Response{ImageID: im.id}, nil
			}
		}
	}
	now := time.Now()
	switch name := f.Get("Name"); {
	case src.state(now) != "available":
		return nil, errCode("IncorrectState", "Image %s is not available", src.id)
	case !amiName.MatchString(name):
		return nil, errCode("InvalidAMIName.Malformed", "AMI name %q is invalid", name)
	case e.nameTaken(region, name):
		return nil, errCode("InvalidAMIName.Duplicate", "AMI name %s is already in use by an AMI", name)
	}
	cp := *src
	cp.id, cp.region, cp.name, cp.clientToken = e.nextID("ami"), region, f.Get("Name"), f.Get("ClientToken")
	cp.description = f.Get("Description")
	cp.created, cp.readyAt = now, now.Add(2*e.delay)
	cp.users, cp.groups, cp.orgs, cp.ous = nil, nil, nil, nil
	cp.deprecation, cp.protection, cp.protectedUntil = "", "disabled", time.Time{}
	cp.sourceID, cp.sourceRegion = src.id, srcRegion
	cp.bdms = nil
	specs := tagSpecs(f)
	for _, b := range src.bdms {
		if b.snapshot != "" {
			b.snapshot = e.copySnapshot(e.snaps[b.snapshot], region, boolForm(f, "Encrypted"), f.Get("KmsKeyId"), now)
			b.encrypted, b.kmsKey = e.snaps[b.snapshot].encrypted, e.snaps[b.snapshot].kmsKey
			e.setTags(b.snapshot, specs["snapshot"])
		}
		cp.bdms = append(cp.bdms, b)
	}
	e.images[cp.id] = &cp
	if boolForm(f, "CopyImageTags") {
		e.setTags(cp.id, e.tags[src.id])
	}
	e.setTags(cp.id, specs["image"])
	return &ec2Response{ImageID: cp.id}, nil
}

// copySnapshot copies src into region, completing after the delay.
func (e *Emulator) copySnapshot(src *snapshot, region string, encrypt bool, kms string, now time.Time) string {
	s := *src
	s.id, s.region, s.clientToken, s.state, s.readyAt, s.started = e.nextID("snap"), region, "", "completing", now.Add(2*e.delay), now
	s.users, s.groups, s.start = nil, nil, nil
	s.blocks = make(map[int32][]byte, len(src.blocks))
	for i, b := range src.blocks {
		s.blocks[i] = b
	}
	if encrypt || s.encrypted {
		s.encrypted = true
		s.kmsKey = kms
		if kms == "" {
			s.kmsKey = "arn:aws:kms:" + region + ":" + AccountID + ":alias/aws/ebs"
		}
	}
	s.description = "Copied for DestinationAmi from SourceAmi " + src.id
	e.snaps[s.id] = &s
	return s.id
}
