package awssim_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/tollgate/tollgate/awssim"
)

// rootMapping is what DescribeImages says of an image's root volume.
type rootMapping struct {
	device, snapshot string
	size             int32
}

// imageRoot returns the root mapping DescribeImages reports for image, failing the test
// when the image names no root device or has no EBS mapping for it.
func imageRoot(t *testing.T, e *env, image string) rootMapping {
	t.Helper()
	out, err := e.west().DescribeImages(e.ctx, &ec2.DescribeImagesInput{ImageIds: []string{image}})
	if err != nil || len(out.Images) != 1 {
		t.Fatalf("DescribeImages(%s) = %+v, %v; want one image", image, out, err)
	}
	im := out.Images[0]
	dev := aws.ToString(im.RootDeviceName)
	if dev == "" || im.RootDeviceType != types.DeviceTypeEbs {
		t.Fatalf("image %s: root device %q of type %q, want a named EBS root", image, dev, im.RootDeviceType)
	}
	for _, m := range im.BlockDeviceMappings {
		if aws.ToString(m.DeviceName) == dev && m.Ebs != nil {
			r := rootMapping{device: dev, snapshot: aws.ToString(m.Ebs.SnapshotId), size: aws.ToInt32(m.Ebs.VolumeSize)}
			if !strings.HasPrefix(r.snapshot, "snap-") || r.size < 1 {
				t.Fatalf("image %s root mapping %+v: want a snapshot id and a size", image, r)
			}
			return r
		}
	}
	t.Fatalf("image %s has no EBS mapping for its root device %s: %+v", image, dev, im.BlockDeviceMappings)
	return rootMapping{}
}

// TestImagesDescribeRootMapping checks that every seeded image reports its root device
// with an EBS mapping (snapshot id and size), which is what a client needs to send a
// complete root mapping in RunInstances; one image has a root larger than the rest, so
// "at least the image's size" is testable.
func TestImagesDescribeRootMapping(t *testing.T) {
	e := newEnv(t)
	out, err := e.west().DescribeImages(e.ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(out.Images) == 0 {
		t.Fatalf("DescribeImages = %v images, %v", len(out.Images), err)
	}
	sizes := map[int32]bool{}
	for _, im := range out.Images {
		sizes[imageRoot(t, e, aws.ToString(im.ImageId)).size] = true
	}
	if len(sizes) < 2 {
		t.Errorf("root sizes %v: want at least two different ones", sizes)
	}
}

// TestRunInstancesBlockDeviceMappings checks that RunInstances takes and refuses block
// device mappings the way EC2 does: an EBS mapping needs a size or a snapshot id, a size
// below the snapshot's is refused, the root's snapshot cannot be swapped, and a complete
// mapping lands on the volume DescribeVolumes reports.
func TestRunInstancesBlockDeviceMappings(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	root := imageRoot(t, e, awssim.FixedImageID)
	bdm := func(dev string, ebs *types.EbsBlockDevice) runOpt {
		return func(in *ec2.RunInstancesInput) {
			in.BlockDeviceMappings = append(in.BlockDeviceMappings, types.BlockDeviceMapping{DeviceName: aws.String(dev), Ebs: ebs})
		}
	}
	refused := []struct {
		name, code, msg string
		opt             runOpt
	}{
		{"root without size or snapshot", "MissingParameter", "The request must contain the parameter size or snapshotId",
			bdm(root.device, &types.EbsBlockDevice{VolumeType: types.VolumeTypeGp3, DeleteOnTermination: aws.Bool(true)})},
		{"extra device without size or snapshot", "MissingParameter", "The request must contain the parameter size or snapshotId",
			bdm("/dev/sdf", &types.EbsBlockDevice{VolumeType: types.VolumeTypeGp3})},
		{"root smaller than its snapshot", "InvalidBlockDeviceMapping", "is smaller than",
			bdm(root.device, &types.EbsBlockDevice{SnapshotId: aws.String(root.snapshot), VolumeSize: aws.Int32(root.size - 1)})},
		{"root with another snapshot", "InvalidBlockDeviceMapping", "snapshotId cannot be modified on root device",
			bdm(root.device, &types.EbsBlockDevice{SnapshotId: aws.String("snap-0123456789abcdef0"), VolumeSize: aws.Int32(root.size)})},
		{"unknown snapshot", "InvalidSnapshot.NotFound", "does not exist",
			bdm("/dev/sdf", &types.EbsBlockDevice{SnapshotId: aws.String("snap-0123456789abcdef0")})},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.RunInstances(e.ctx, runInput(tc.opt))
			wantCode(t, err, tc.code, 400)
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want it to contain %q", err, tc.msg)
			}
		})
	}
	if n := len(e.sim.Instances("")); n != 0 {
		t.Fatalf("refused launches created %d instances", n)
	}

	accepted := []struct {
		name     string
		opt      runOpt
		wantSize int32
		wantType types.VolumeType
		wantDoT  bool
	}{
		{"no mapping: the image's root", func(*ec2.RunInstancesInput) {}, root.size, types.VolumeTypeGp3, true},
		{"complete root mapping", bdm(root.device, &types.EbsBlockDevice{SnapshotId: aws.String(root.snapshot),
			VolumeSize: aws.Int32(root.size + 12), VolumeType: types.VolumeTypeGp2, DeleteOnTermination: aws.Bool(true)}),
			root.size + 12, types.VolumeTypeGp2, true},
		{"snapshot without size: the snapshot's size", bdm(root.device, &types.EbsBlockDevice{SnapshotId: aws.String(root.snapshot),
			VolumeType: types.VolumeTypeIo1, DeleteOnTermination: aws.Bool(false)}), root.size, types.VolumeTypeIo1, false},
		{"size without snapshot", bdm(root.device, &types.EbsBlockDevice{VolumeSize: aws.Int32(root.size)}),
			root.size, types.VolumeTypeGp3, true},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			id := e.run(tc.opt)[0]
			vols, err := c.DescribeVolumes(e.ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("attachment.instance-id", id)}})
			if err != nil || len(vols.Volumes) != 1 {
				t.Fatalf("DescribeVolumes(%s) = %+v, %v; want exactly the root", id, vols, err)
			}
			v := vols.Volumes[0]
			if got := aws.ToInt32(v.Size); got != tc.wantSize {
				t.Errorf("size = %d GiB, want %d", got, tc.wantSize)
			}
			if v.VolumeType != tc.wantType {
				t.Errorf("type = %s, want %s", v.VolumeType, tc.wantType)
			}
			if got := aws.ToString(v.SnapshotId); got != root.snapshot {
				t.Errorf("snapshot = %s, want the image's %s", got, root.snapshot)
			}
			if len(v.Attachments) != 1 || aws.ToString(v.Attachments[0].Device) != root.device ||
				aws.ToBool(v.Attachments[0].DeleteOnTermination) != tc.wantDoT {
				t.Errorf("attachments %+v, want one on %s with delete on termination %v", v.Attachments, root.device, tc.wantDoT)
			}
		})
	}
}
