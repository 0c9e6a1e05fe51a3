package awsemu

import "encoding/xml"

// ec2Response is every EC2 reply this emulator sends: XMLName is set to
// <Action>Response and only the fields of that action are filled.
type ec2Response struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`

	Return        *bool          `xml:"return,omitempty"`
	ImageID       string         `xml:"imageId,omitempty"`
	SnapshotID    string         `xml:"snapshotId,omitempty"`
	ImportTaskID  string         `xml:"importTaskId,omitempty"`
	TaskDetail    *taskDetailXML `xml:"snapshotTaskDetail,omitempty"`
	PreviousState string         `xml:"previousState,omitempty"`
	State         string         `xml:"state,omitempty"`

	Description     *valueXML `xml:"description,omitempty"`
	BootMode        *valueXML `xml:"bootMode,omitempty"`
	TpmSupport      *valueXML `xml:"tpmSupport,omitempty"`
	UefiData        *valueXML `xml:"uefiData,omitempty"`
	ImdsSupport     *valueXML `xml:"imdsSupport,omitempty"`
	SriovNetSupport *valueXML `xml:"sriovNetSupport,omitempty"`
	Protection      *valueXML `xml:"deregistrationProtection,omitempty"`

	// Lists: a handler sets a non-nil slice (possibly empty) for each list
	// its action returns; wrap turns them into the <name><item>… elements
	// so other actions' lists are absent rather than empty.
	Images            []imageXML      `xml:"-"`
	Snapshots         []snapshotXML   `xml:"-"`
	Regions           []regionXML     `xml:"-"`
	TagDescs          []tagDescXML    `xml:"-"`
	ImportTasks       []importTaskXML `xml:"-"`
	LaunchPerms       []launchPermXML `xml:"-"`
	CreateVolumePerms []launchPermXML `xml:"-"`
	BDMs              []bdmXML        `xml:"-"`

	ImagesXML      *items[imageXML]      `xml:"imagesSet,omitempty"`
	SnapshotsXML   *items[snapshotXML]   `xml:"snapshotSet,omitempty"`
	RegionsXML     *items[regionXML]     `xml:"regionInfo,omitempty"`
	TagDescsXML    *items[tagDescXML]    `xml:"tagSet,omitempty"`
	ImportTasksXML *items[importTaskXML] `xml:"importSnapshotTaskSet,omitempty"`
	LaunchXML      *items[launchPermXML] `xml:"launchPermission,omitempty"`
	VolumePermXML  *items[launchPermXML] `xml:"createVolumePermission,omitempty"`
	BDMsXML        *items[bdmXML]        `xml:"blockDeviceMapping,omitempty"`
}

// items is an EC2 list: <name><item>…</item>…</name>.
type items[T any] struct {
	Items []T `xml:"item"`
}

func wrap[T any](s []T) *items[T] {
	if s == nil {
		return nil
	}
	return &items[T]{s}
}

// wrap fills the list elements from the list slices.
func (r *ec2Response) wrap() {
	r.ImagesXML, r.SnapshotsXML, r.RegionsXML = wrap(r.Images), wrap(r.Snapshots), wrap(r.Regions)
	r.TagDescsXML, r.ImportTasksXML = wrap(r.TagDescs), wrap(r.ImportTasks)
	r.LaunchXML, r.VolumePermXML, r.BDMsXML = wrap(r.LaunchPerms), wrap(r.CreateVolumePerms), wrap(r.BDMs)
}

type valueXML struct {
	Value string `xml:"value"`
}

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type tagDescXML struct {
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Key          string `xml:"key"`
	Value        string `xml:"value"`
}

type launchPermXML struct {
	UserID string `xml:"userId,omitempty"`
	Group  string `xml:"group,omitempty"`
	OrgARN string `xml:"organizationArn,omitempty"`
	OUARN  string `xml:"organizationalUnitArn,omitempty"`
}

type bdmXML struct {
	DeviceName string `xml:"deviceName"`
	Ebs        ebsXML `xml:"ebs"`
}

type ebsXML struct {
	SnapshotID          string `xml:"snapshotId"`
	VolumeSize          int64  `xml:"volumeSize"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	VolumeType          string `xml:"volumeType"`
	Encrypted           bool   `xml:"encrypted"`
	KmsKeyID            string `xml:"kmsKeyId,omitempty"`
}

type imageXML struct {
	ImageID            string   `xml:"imageId"`
	ImageLocation      string   `xml:"imageLocation"`
	State              string   `xml:"imageState"`
	OwnerID            string   `xml:"imageOwnerId"`
	CreationDate       string   `xml:"creationDate"`
	IsPublic           bool     `xml:"isPublic"`
	Architecture       string   `xml:"architecture"`
	ImageType          string   `xml:"imageType"`
	Name               string   `xml:"name"`
	Description        string   `xml:"description,omitempty"`
	RootDeviceType     string   `xml:"rootDeviceType"`
	RootDeviceName     string   `xml:"rootDeviceName"`
	BDMs               []bdmXML `xml:"blockDeviceMapping>item"`
	VirtualizationType string   `xml:"virtualizationType"`
	Hypervisor         string   `xml:"hypervisor"`
	EnaSupport         bool     `xml:"enaSupport"`
	SriovNetSupport    string   `xml:"sriovNetSupport,omitempty"`
	BootMode           string   `xml:"bootMode,omitempty"`
	TpmSupport         string   `xml:"tpmSupport,omitempty"`
	ImdsSupport        string   `xml:"imdsSupport,omitempty"`
	DeprecationTime    string   `xml:"deprecationTime,omitempty"`
	Protection         string   `xml:"deregistrationProtection,omitempty"`
	SourceImageID      string   `xml:"sourceImageId,omitempty"`
	SourceImageRegion  string   `xml:"sourceImageRegion,omitempty"`
	Tags               []tagXML `xml:"tagSet>item"`
}

type snapshotXML struct {
	SnapshotID  string   `xml:"snapshotId"`
	VolumeID    string   `xml:"volumeId"`
	Status      string   `xml:"status"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	VolumeSize  int64    `xml:"volumeSize"`
	Description string   `xml:"description"`
	Encrypted   bool     `xml:"encrypted"`
	KmsKeyID    string   `xml:"kmsKeyId,omitempty"`
	StorageTier string   `xml:"storageTier"`
	Tags        []tagXML `xml:"tagSet>item"`
}

type regionXML struct {
	RegionName  string `xml:"regionName"`
	Endpoint    string `xml:"regionEndpoint"`
	OptInStatus string `xml:"optInStatus"`
}

type userBucketXML struct {
	S3Bucket string `xml:"s3Bucket"`
	S3Key    string `xml:"s3Key"`
}

type taskDetailXML struct {
	Description   string        `xml:"description,omitempty"`
	DiskImageSize float64       `xml:"diskImageSize,omitempty"`
	Encrypted     bool          `xml:"encrypted"`
	Format        string        `xml:"format"`
	KmsKeyID      string        `xml:"kmsKeyId,omitempty"`
	Progress      string        `xml:"progress,omitempty"`
	SnapshotID    string        `xml:"snapshotId,omitempty"`
	Status        string        `xml:"status"`
	StatusMessage string        `xml:"statusMessage,omitempty"`
	UserBucket    userBucketXML `xml:"userBucket"`
}

type importTaskXML struct {
	ImportTaskID string        `xml:"importTaskId"`
	Description  string        `xml:"description,omitempty"`
	Detail       taskDetailXML `xml:"snapshotTaskDetail"`
	Tags         []tagXML      `xml:"tagSet>item"`
}
