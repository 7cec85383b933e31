package cloud

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// maxCachedRoots bounds the root-volume cache: policy names a handful of images per
// region, so this is far above need and still small.
const maxCachedRoots = 256

// rootVolume is an image's root device as DescribeImages reports it.
type rootVolume struct {
	device   string // the image's RootDeviceName
	ebs      bool   // the root is an EBS volume (not instance store)
	snapshot string // the root mapping's snapshot id, "" if none
	sizeGB   int    // the root mapping's size, 0 if none
}

// rootMapping is the block device mapping that applies in's volume policy to the
// image's root volume, complete as EC2 requires it: the image's own root device (any
// other name adds a second volume instead), its snapshot, a size no smaller than the
// snapshot's (max of policy and image, so a small policy size cannot make the launch
// fail), the type and delete on termination. ok is false when the image's root cannot
// be overridden (instance store, or an image that names no root device or maps it to
// neither a snapshot nor a size), and the launch keeps the image's own root.
func rootMapping(in RunInput, r rootVolume) (m types.BlockDeviceMapping, ok bool) {
	size := max(in.VolumeSizeGB, r.sizeGB)
	if !r.ebs || r.device == "" || (r.snapshot == "" && size == 0) {
		return types.BlockDeviceMapping{}, false
	}
	vt := in.VolumeType
	if vt == "" {
		vt = defaultVolType
	}
	ebs := &types.EbsBlockDevice{
		VolumeType:          types.VolumeType(vt),
		DeleteOnTermination: aws.Bool(true),
	}
	if r.snapshot != "" {
		ebs.SnapshotId = aws.String(r.snapshot)
	}
	if size > 0 {
		ebs.VolumeSize = aws.Int32(int32(size))
	}
	return types.BlockDeviceMapping{DeviceName: aws.String(r.device), Ebs: ebs}, true
}

// rootVolume returns image's root device, from the cache or DescribeImages. A failed
// lookup is returned, never guessed around: a mapping on a guessed device would attach
// a second volume or be refused. Images are immutable, so an entry never goes stale.
func (c *Client) rootVolume(ctx context.Context, cl *ec2.Client, region, image string) (rootVolume, error) {
	key := region + "/" + image
	if r, ok := c.roots.get(key); ok {
		return r, nil
	}
	out, err := cl.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{image}})
	if err != nil {
		return rootVolume{}, err
	}
	if len(out.Images) == 0 {
		return rootVolume{}, fmt.Errorf("image %s not found", image)
	}
	img := fromSDKImage(region, out.Images[0])
	r := rootVolume{
		device:   img.RootDeviceName,
		ebs:      img.RootDeviceType == "" || img.RootDeviceType == string(types.DeviceTypeEbs),
		snapshot: img.RootSnapshotID,
		sizeGB:   img.RootSizeGB,
	}
	c.roots.put(key, r)
	return r, nil
}

// rootBlockDevices is RunInstances' block device mapping for in: none without a volume
// policy, else the complete root mapping, or none (logged) for an image whose root
// cannot be overridden.
func (c *Client) rootBlockDevices(ctx context.Context, cl *ec2.Client, in RunInput) ([]types.BlockDeviceMapping, error) {
	if in.VolumeSizeGB <= 0 && in.VolumeType == "" {
		return nil, nil
	}
	r, err := c.rootVolume(ctx, cl, in.Region, in.ImageID)
	if err != nil {
		return nil, err
	}
	m, ok := rootMapping(in, r)
	if !ok {
		c.logger.Warn("image root volume cannot be overridden; launching with the image's own",
			slog.String(logKeyRegion, in.Region), slog.String(logKeyImage, in.ImageID),
			slog.String(logKeyDevice, r.device), slog.Bool(logKeyEBS, r.ebs))
		return nil, nil
	}
	return []types.BlockDeviceMapping{m}, nil
}

// rootCache is a small LRU of image root volumes keyed by region/image.
type rootCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recently used; values are *rootEntry
	byKey map[string]*list.Element
}

type rootEntry struct {
	key string
	r   rootVolume
}

func newRootCache(max int) *rootCache {
	return &rootCache{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

func (rc *rootCache) get(key string) (rootVolume, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e, ok := rc.byKey[key]
	if !ok {
		return rootVolume{}, false
	}
	rc.order.MoveToFront(e)
	return e.Value.(*rootEntry).r, true
}

func (rc *rootCache) put(key string, r rootVolume) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if e, ok := rc.byKey[key]; ok {
		e.Value.(*rootEntry).r = r
		rc.order.MoveToFront(e)
		return
	}
	rc.byKey[key] = rc.order.PushFront(&rootEntry{key: key, r: r})
	for rc.order.Len() > rc.max {
		old := rc.order.Back()
		rc.order.Remove(old)
		delete(rc.byKey, old.Value.(*rootEntry).key)
	}
}

func (rc *rootCache) len() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.order.Len()
}
