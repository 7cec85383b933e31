package cloud

import (
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// fromSDKInstance converts an SDK instance; region is the one the call was made in,
// since the instance itself does not carry it.
func fromSDKInstance(region string, i types.Instance) Instance {
	inst := Instance{
		ID:                    aws.ToString(i.InstanceId),
		Region:                region,
		Type:                  string(i.InstanceType),
		ImageID:               aws.ToString(i.ImageId),
		KeyName:               aws.ToString(i.KeyName),
		ClientToken:           aws.ToString(i.ClientToken),
		LaunchTime:            aws.ToTime(i.LaunchTime).UTC(),
		StateTransitionReason: aws.ToString(i.StateTransitionReason),
		Tags:                  fromSDKTags(i.Tags),
		PublicIP:              aws.ToString(i.PublicIpAddress),
		PrivateIP:             aws.ToString(i.PrivateIpAddress),
		Spot:                  i.InstanceLifecycle == types.InstanceLifecycleTypeSpot,
		SpotRequestID:         aws.ToString(i.SpotInstanceRequestId),
	}
	if i.Placement != nil {
		inst.AvailabilityZone = aws.ToString(i.Placement.AvailabilityZone)
	}
	if i.State != nil {
		inst.State = string(i.State.Name)
	}
	if i.StateReason != nil {
		inst.StateReasonCode = aws.ToString(i.StateReason.Code)
	}
	for _, g := range i.SecurityGroups {
		inst.SecurityGroups = append(inst.SecurityGroups, aws.ToString(g.GroupId))
	}
	for _, bdm := range i.BlockDeviceMappings {
		if bdm.Ebs != nil && aws.ToString(bdm.Ebs.VolumeId) != "" {
			inst.Volumes = append(inst.Volumes, aws.ToString(bdm.Ebs.VolumeId))
		}
	}
	return inst
}

// fromSDKTags converts EC2 tags into a map; never nil, so callers can index it.
func fromSDKTags(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// fromSDKStateChanges converts Start/Stop/Terminate results.
func fromSDKStateChanges(in []types.InstanceStateChange) []StateChange {
	out := make([]StateChange, 0, len(in))
	for _, sc := range in {
		c := StateChange{ID: aws.ToString(sc.InstanceId)}
		if sc.PreviousState != nil {
			c.Previous = string(sc.PreviousState.Name)
		}
		if sc.CurrentState != nil {
			c.Current = string(sc.CurrentState.Name)
		}
		out = append(out, c)
	}
	return out
}

// fromSDKImage converts an AMI. EC2 reports CreationDate as an ISO 8601 string.
func fromSDKImage(region string, im types.Image) Image {
	img := Image{
		ID:             aws.ToString(im.ImageId),
		Name:           aws.ToString(im.Name),
		Region:         region,
		CreatedAt:      parseAWSTime(aws.ToString(im.CreationDate)),
		RootDeviceName: aws.ToString(im.RootDeviceName),
		RootDeviceType: string(im.RootDeviceType),
		Architecture:   string(im.Architecture),
		State:          string(im.State),
		OwnerID:        aws.ToString(im.OwnerId),
		Tags:           fromSDKTags(im.Tags),
	}
	for _, m := range im.BlockDeviceMappings {
		if m.Ebs != nil && img.RootDeviceName != "" && sameDevice(aws.ToString(m.DeviceName), img.RootDeviceName) {
			img.RootSnapshotID = aws.ToString(m.Ebs.SnapshotId)
			img.RootSizeGB = int(aws.ToInt32(m.Ebs.VolumeSize))
			break
		}
	}
	return img
}

// sameDevice reports whether two device names are the same device; EC2 writes them
// with or without the /dev/ prefix ("sda1", "/dev/sda1").
func sameDevice(a, b string) bool {
	return strings.TrimPrefix(a, "/dev/") == strings.TrimPrefix(b, "/dev/")
}

// fromSDKSpotPrice converts one spot price point; an unparsable price becomes 0 and ok
// false, so the caller can drop it rather than price instances at zero.
func fromSDKSpotPrice(sp types.SpotPrice) (SpotPrice, bool) {
	p, err := strconv.ParseFloat(aws.ToString(sp.SpotPrice), 64)
	return SpotPrice{
		Type:             string(sp.InstanceType),
		AvailabilityZone: aws.ToString(sp.AvailabilityZone),
		USDPerHour:       p,
		At:               aws.ToTime(sp.Timestamp).UTC(),
	}, err == nil
}

// fromSDKVolume converts an EBS volume.
func fromSDKVolume(region string, v types.Volume) Volume {
	vol := Volume{
		ID:         aws.ToString(v.VolumeId),
		Region:     region,
		Type:       string(v.VolumeType),
		SizeGB:     int(aws.ToInt32(v.Size)),
		State:      string(v.State),
		CreatedAt:  aws.ToTime(v.CreateTime).UTC(),
		SnapshotID: aws.ToString(v.SnapshotId),
	}
	for _, a := range v.Attachments {
		if id := aws.ToString(a.InstanceId); id != "" {
			vol.InstanceID = id
			vol.Device = aws.ToString(a.Device)
			vol.DeleteOnTermination = aws.ToBool(a.DeleteOnTermination)
			break
		}
	}
	return vol
}
