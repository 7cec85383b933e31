package awssim

import (
	"strconv"
	"strings"
	"time"
)

// CopyImageDuration is how long a copied image stays pending.
const CopyImageDuration = 3 * time.Minute

// AddImage registers an image owned by the simulated account in region (as if the
// account had created it) and returns its id.
func (s *Sim) AddImage(region, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg := s.regions[region]
	if rg == nil {
		return ""
	}
	now := s.Now()
	im := &image{id: "ami-" + hex17(hash64("ami", region, name, strconv.FormatUint(s.counter, 10))), name: name,
		description: name, ownerID: AccountID, arch: "x86_64", rootDevice: "/dev/xvda",
		snapshotID: s.newID("snap"), created: fmtTime(now), rootSizeGiB: 8, tags: map[string]string{}}
	rg.images = append(rg.images, im)
	rg.imageIdx[im.id] = im
	return im.id
}

type xmlCopyImage struct {
	ImageID string `xml:"imageId"`
}

// copyImage copies an image from SourceRegion into this region: pending for
// CopyImageDuration, with a snapshot of its own; the same ClientToken returns the same
// copy.
func (s *Sim) copyImage(rg *region, c *call, now time.Time) (any, *apiError) {
	srcRegion, srcID, name := c.get("SourceRegion"), c.get("SourceImageId"), c.get("Name")
	switch {
	case srcRegion == "":
		return nil, missing("SourceRegion")
	case srcID == "":
		return nil, missing("SourceImageId")
	case name == "":
		return nil, missing("Name")
	}
	token := c.get("ClientToken")
	if token != "" {
		for _, im := range rg.images {
			if im.copyToken == token {
				return xmlCopyImage{ImageID: im.id}, nil
			}
		}
	}
	src := s.regions[srcRegion]
	if src == nil {
		return nil, badParam("Invalid region: %s", srcRegion)
	}
	from := src.imageIdx[srcID]
	if from == nil {
		return nil, errf(400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", srcID)
	}
	if from.state(now) != "available" {
		return nil, errf(400, "InvalidAMIID.Unavailable", "The image '%s' is not available", srcID)
	}
	tags := map[string]string{}
	if c.boolean("CopyImageTags") {
		for k, v := range from.tags {
			tags[k] = v
		}
	}
	if aerr := c.tagSpecs(tags, "image", "snapshot"); aerr != nil {
		return nil, aerr
	}
	im := &image{id: "ami-" + hex17(hash64("ami-copy", rg.name, srcID, token, strconv.FormatUint(s.nextCounter(), 10))),
		name: name, description: c.get("Description"), ownerID: AccountID, arch: from.arch, rootDevice: from.rootDevice,
		snapshotID: s.newID("snap"), created: fmtTime(now), rootSizeGiB: from.rootSizeGiB,
		availableAt: now.Add(CopyImageDuration), tags: tags, copyToken: token}
	rg.images = append(rg.images, im)
	rg.imageIdx[im.id] = im
	return xmlCopyImage{ImageID: im.id}, nil
}

func (s *Sim) deregisterImage(rg *region, c *call, now time.Time) (any, *apiError) {
	id := c.get("ImageId")
	if id == "" {
		return nil, missing("ImageId")
	}
	im := rg.imageIdx[id]
	if im == nil {
		return nil, errf(400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	if im.ownerID != AccountID {
		return nil, errf(400, "AuthFailure", "Not authorized for image:%s", id)
	}
	delete(rg.imageIdx, id)
	for i, x := range rg.images {
		if x == im {
			rg.images = append(rg.images[:i:i], rg.images[i+1:]...)
			break
		}
	}
	// The image's snapshot stays, as in EC2, until DeleteSnapshot.
	if rg.snapshots == nil {
		rg.snapshots = map[string]*ebsSnapshot{}
	}
	rg.snapshots[im.snapshotID] = &ebsSnapshot{id: im.snapshotID, sizeGiB: im.rootSizeGiB,
		description: "Copied for DestinationAmi " + id, created: now}
	return xmlReturn{true}, nil
}

func (s *Sim) deleteSnapshot(rg *region, c *call, now time.Time) (any, *apiError) {
	id := c.get("SnapshotId")
	if id == "" {
		return nil, missing("SnapshotId")
	}
	for _, im := range rg.images {
		if im.snapshotID == id {
			return nil, errf(400, "InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", id, im.id)
		}
	}
	if rg.snapshots[id] == nil || !strings.HasPrefix(id, "snap-") {
		return nil, errf(400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	delete(rg.snapshots, id)
	return xmlReturn{true}, nil
}
