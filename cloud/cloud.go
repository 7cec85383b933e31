// Package cloud is tollgate's only door to AWS: EC2 and IAM/STS through aws-sdk-go-v2,
// configured only through the SDK's standard loading (environment, shared config and
// profile, instance role, AWS_ENDPOINT_URL), plus aws.endpoint_url and the GBrowse
// variables EC2_ACCESS_KEY / EC2_SECRET_KEY.
//
// Consumers (broker, accounting, iamusers) declare the small interface they need; *Client
// satisfies them all.
package cloud

import "time"

// Tags tollgate writes on every instance it launches (tag-on-create).
const (
	TagOwner   = "tollgate:owner"   // Unix user name
	TagUID     = "tollgate:uid"     // Unix uid, decimal
	TagRequest = "tollgate:request" // launch request id
	TagExpires = "tollgate:expires" // lease expiry, RFC 3339 UTC
	TagPurpose = "tollgate:purpose" // "user", "balancer", "service"
	TagName    = "Name"
)

// Instance is what tollgate needs of an EC2 instance.
type Instance struct {
	ID                    string            `json:"id"`
	Region                string            `json:"region"`
	AvailabilityZone      string            `json:"availability_zone"`
	State                 string            `json:"state"` // pending, running, stopping, stopped, shutting-down, terminated
	Type                  string            `json:"type"`
	ImageID               string            `json:"image_id"`
	KeyName               string            `json:"key_name"`
	ClientToken           string            `json:"client_token"`
	LaunchTime            time.Time         `json:"launch_time"` // changes at each start, as in AWS
	StateTransitionReason string            `json:"state_transition_reason"`
	StateReasonCode       string            `json:"state_reason_code"`
	Tags                  map[string]string `json:"tags"`
	PublicIP              string            `json:"public_ip"`
	PrivateIP             string            `json:"private_ip"`
	Spot                  bool              `json:"spot"` // InstanceLifecycle == "spot"
	SpotRequestID         string            `json:"spot_request_id"`
	Volumes               []string          `json:"volumes"` // attached EBS volume ids
	SecurityGroups        []string          `json:"security_groups,omitempty"`
}

// RunInput is one RunInstances call. Tags are applied to the instances and their volumes
// at creation (TagSpecifications), so an untagged tollgate instance cannot exist.
type RunInput struct {
	Region          string
	ClientToken     string
	ImageID         string
	Type            string
	Count           int
	KeyName         string
	SecurityGroups  []string
	Subnet          string
	InstanceProfile string // ARN or name; from policy only
	UserData        []byte // raw; base64-encoded by the client
	Spot            bool
	SpotMaxPrice    string // "" = up to the on-demand price
	VolumeSizeGB    int    // 0 = the image's default
	VolumeType      string // "" = gp3
	// AvailabilityZone places the instances ("" = EC2 chooses, or the subnet's zone).
	AvailabilityZone string
	// DataVolumes are EBS volumes besides the root, deleted with the instance.
	DataVolumes []DataVolume
	Tags        map[string]string
	// Owner is used only for fair queueing in the client-side RunInstances limiter.
	Owner string
}

// DataVolume is an extra EBS volume at launch: from a snapshot (SizeGiB 0 = the
// snapshot's size) or empty of SizeGiB.
type DataVolume struct {
	Device     string // e.g. /dev/sdg
	SnapshotID string
	SizeGiB    int
	VolumeType string // "" = gp3
}

// Filter selects instances in DescribeInstances; zero fields match everything.
type Filter struct {
	IDs         []string
	States      []string
	Tags        map[string]string // tag:KEY = VALUE
	TagKeys     []string          // tag-key
	ClientToken string
}

// StateChange is one instance's transition reported by Start/Stop/Terminate.
type StateChange struct {
	ID       string `json:"id"`
	Previous string `json:"previous"`
	Current  string `json:"current"`
}

// KeyPair is an EC2 key pair.
type KeyPair struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	Fingerprint string `json:"fingerprint"`
}

// Image is an AMI.
type Image struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Region    string            `json:"region"`
	State     string            `json:"state,omitempty"` // pending, available, failed, ...
	OwnerID   string            `json:"owner_id,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	// RootDeviceName is where the root volume attaches (/dev/sda1, /dev/xvda); a volume
	// size override must name it or EC2 adds a second volume instead.
	RootDeviceName string `json:"root_device_name,omitempty"`
	RootDeviceType string `json:"root_device_type,omitempty"` // ebs or instance-store
	// RootSnapshotID and RootSizeGB describe the image's own mapping of its root device
	// (empty and 0 when it has none): an override of the root volume must carry the
	// snapshot or a size, and a size no smaller than the snapshot's.
	RootSnapshotID string `json:"root_snapshot_id,omitempty"`
	RootSizeGB     int    `json:"root_size_gb,omitempty"`
	Architecture   string `json:"architecture,omitempty"` // x86_64 or arm64
}

// SpotPrice is one point of the spot price history.
type SpotPrice struct {
	Type             string    `json:"type"`
	AvailabilityZone string    `json:"availability_zone"`
	USDPerHour       float64   `json:"usd_per_hour"`
	At               time.Time `json:"at"`
}

// Volume is an EBS volume.
type Volume struct {
	ID         string    `json:"id"`
	Region     string    `json:"region"`
	InstanceID string    `json:"instance_id"` // "" when detached
	Type       string    `json:"type"`
	SizeGB     int       `json:"size_gb"`
	State      string    `json:"state"`
	CreatedAt  time.Time `json:"created_at"`
	SnapshotID string    `json:"snapshot_id,omitempty"` // what it was made from
	// Device and DeleteOnTermination describe the attachment; empty and false when
	// detached.
	Device              string `json:"device,omitempty"`
	DeleteOnTermination bool   `json:"delete_on_termination,omitempty"`
}
