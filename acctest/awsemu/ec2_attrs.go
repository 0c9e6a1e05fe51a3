package awsemu

import (
	"net/url"
	"regexp"
	"time"
)

var (
	accountID = regexp.MustCompile(`^\d{12}$`)
	orgARN    = regexp.MustCompile(`^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]+$`)
	ouARN     = regexp.MustCompile(`^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]+/ou-[a-z0-9-]+$`)
)

// permChange is one launch or create-volume permission to add or remove.
type permChange struct {
	add                    bool
	user, group, org, unit string
}

// permChanges collects the changes of both the structured form
// (<Prefix>.Add.N.UserId …) and the legacy form (OperationType, UserId.N,
// UserGroup.N, OrganizationArn.N, OrganizationalUnitArn.N).
func permChanges(f url.Values, prefix string) ([]permChange, *ec2Err) {
	var out []permChange
	for _, op := range []string{"Add", "Remove"} {
		for _, m := range members(f, prefix+"."+op) {
			out = append(out, permChange{op == "Add", m["UserId"], m["Group"], m["OrganizationArn"], m["OrganizationalUnitArn"]})
		}
	}
	if t := f.Get("OperationType"); t != "" {
		add := t == "add"
		if !add && t != "remove" {
			return nil, badParam("Value (%s) for parameter operationType is invalid", t)
		}
		for _, u := range list(f, "UserId") {
			out = append(out, permChange{add: add, user: u})
		}
		for _, g := range list(f, "UserGroup") {
			out = append(out, permChange{add: add, group: g})
		}
		for _, o := range list(f, "OrganizationArn") {
			out = append(out, permChange{add: add, org: o})
		}
		for _, o := range list(f, "OrganizationalUnitArn") {
			out = append(out, permChange{add: add, unit: o})
		}
	}
	for _, c := range out {
		switch {
		case c.user != "" && !accountID.MatchString(c.user):
			return nil, errCode("InvalidAMIAttributeItemValue", "Invalid attribute item value \"%s\" for userId item type.", c.user)
		case c.group != "" && c.group != "all":
			return nil, errCode("InvalidAMIAttributeItemValue", "Invalid attribute item value \"%s\" for group item type.", c.group)
		case c.org != "" && !orgARN.MatchString(c.org):
			return nil, errCode("InvalidAMIAttributeItemValue", "Invalid organization ARN %q", c.org)
		case c.unit != "" && !ouARN.MatchString(c.unit):
			return nil, errCode("InvalidAMIAttributeItemValue", "Invalid organizational unit ARN %q", c.unit)
		}
	}
	return out, nil
}

func setMember(m *map[string]bool, v string, add bool) {
	if v == "" {
		return
	}
	if *m == nil {
		*m = map[string]bool{}
	}
	if add {
		(*m)[v] = true
	} else {
		delete(*m, v)
	}
}

func (e *Emulator) modifyImageAttribute(region string, f url.Values) (*ec2Response, *ec2Err) {
	im, err := e.image(region, f.Get("ImageId"))
	if err != nil {
		return nil, err
	}
	changes, err := permChanges(f, "LaunchPermission")
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		setMember(&im.users, c.user, c.add)
		setMember(&im.groups, c.group, c.add)
		setMember(&im.orgs, c.org, c.add)
		setMember(&im.ous, c.unit, c.add)
	}
	if _, ok := f["Description.Value"]; ok {
		im.description = f.Get("Description.Value")
	}
	if v, ok := f["ImdsSupport.Value"]; ok {
		if v[0] != "v2.0" {
			return nil, badParam("Value (%s) for parameter imdsSupport is invalid", v[0])
		}
		im.imds = v[0]
	}
	return ok(), nil
}

func (e *Emulator) describeImageAttribute(region string, f url.Values) (*ec2Response, *ec2Err) {
	im, err := e.image(region, f.Get("ImageId"))
	if err != nil {
		return nil, err
	}
	resp := &ec2Response{ImageID: im.id}
	val := func(s string) *valueXML { return &valueXML{s} }
	switch attr := f.Get("Attribute"); attr {
	case "launchPermission":
		resp.LaunchPerms = []launchPermXML{}
		for _, u := range sortedKeys(im.users) {
			resp.LaunchPerms = append(resp.LaunchPerms, launchPermXML{UserID: u})
		}
		for _, g := range sortedKeys(im.groups) {
			resp.LaunchPerms = append(resp.LaunchPerms, launchPermXML{Group: g})
		}
		for _, o := range sortedKeys(im.orgs) {
			resp.LaunchPerms = append(resp.LaunchPerms, launchPermXML{OrgARN: o})
		}
		for _, o := range sortedKeys(im.ous) {
			resp.LaunchPerms = append(resp.LaunchPerms, launchPermXML{OUARN: o})
		}
	case "description":
		resp.Description = val(im.description)
	case "bootMode":
		resp.BootMode = val(im.bootMode)
	case "tpmSupport":
		resp.TpmSupport = val(im.tpm)
	case "uefiData":
		resp.UefiData = val(im.uefiData)
	case "imdsSupport":
		resp.ImdsSupport = val(im.imds)
	case "sriovNetSupport":
		resp.SriovNetSupport = val(im.sriov)
	case "deregistrationProtection":
		resp.Protection = val(im.protection)
	case "blockDeviceMapping":
		resp.BDMs = bdmsXML(im)
	case "kernel", "ramdisk", "productCodes", "lastLaunchedTime":
	default:
		return nil, badParam("Value (%s) for parameter attribute is invalid", attr)
	}
	return resp, nil
}

func (e *Emulator) enableImageDeprecation(region string, f url.Values) (*ec2Response, *ec2Err) {
	im, err := e.image(region, f.Get("ImageId"))
	if err != nil {
		return nil, err
	}
	at, perr := time.Parse(time.RFC3339, f.Get("DeprecateAt"))
	if perr != nil {
		return nil, badParam("Value (%s) for parameter deprecateAt is invalid", f.Get("DeprecateAt"))
	}
	now := time.Now()
	at = at.Round(time.Minute)
	if at.Before(now.Add(-time.Minute)) || at.After(now.AddDate(10, 0, 0)) {
		return nil, badParam("deprecateAt %s must be between now and 10 years from now", at.Format(time.RFC3339))
	}
	im.deprecation = timestamp(at)
	return ok(), nil
}

// CooldownPeriod is how long deregistration protection enabled with a
// cooldown still holds after it is disabled.
const CooldownPeriod = 24 * time.Hour

func (e *Emulator) enableProtection(region string, f url.Values) (*ec2Response, *ec2Err) {
	im, err := e.image(region, f.Get("ImageId"))
	if err != nil {
		return nil, err
	}
	im.protection = "enabled"
	if boolForm(f, "WithCooldown") {
		im.protection = "enabled-with-cooldown"
	}
	return ok(), nil
}

func (e *Emulator) disableProtection(region string, f url.Values) (*ec2Response, *ec2Err) {
	im, err := e.image(region, f.Get("ImageId"))
	if err != nil {
		return nil, err
	}
	if im.protection == "enabled-with-cooldown" {
		// Protection enabled with a cooldown lasts 24 hours after it is
		// disabled (EnableImageDeregistrationProtection WithCooldown).
		im.protectedUntil = time.Now().Add(CooldownPeriod)
	}
	im.protection = "disabled"
	return ok(), nil
}

// snapshotInUse reports whether an image maps the snapshot. Callers hold
// e.mu.
func (e *Emulator) snapshotInUse(id string) string {
	for _, im := range e.images {
		for _, b := range im.bdms {
			if b.snapshot == id {
				return im.id
			}
		}
	}
	return ""
}
