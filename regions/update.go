package regions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/fleet"
)

// copyToken is CopyImage's client token for the copy of home into region: the same
// service, region and home image always get the same copy.
func copyToken(service, region, home string) string {
	sum := sha256.Sum256([]byte(service + "\x00" + region + "\x00" + home))
	return "tollgate-" + hex.EncodeToString(sum[:])[:40]
}

// Update follows a change of the home image: in every region a copy of the new image,
// then a new instance created from it and stopped, and only then the old instance
// terminated and the old copy deregistered. Rerun after a crash, it finishes what was
// started without creating a second new instance.
func (s *Manager) Update(ctx context.Context, by tollgate.Actor, name string) ([]tollgate.RegionSetup, error) {
	svc, err := s.service(name)
	if err != nil {
		return nil, err
	}
	home, err := s.homeImage(ctx, svc)
	if err != nil {
		return nil, err
	}
	results := make([]tollgate.RegionSetup, len(svc.Regions))
	sem := make(chan struct{}, max(svc.Parallel, 1))
	var wg sync.WaitGroup
	for i, region := range svc.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := s.updateRegion(ctx, svc, region, home)
			res.Region = region
			decision, reason := audit.Done, ""
			if err != nil {
				res.Error, decision, reason = err.Error(), audit.Failed, err.Error()
			}
			results[i] = res
			_ = s.o.Audit.Record(ctx, nil, by, audit.Entry{Action: "regions.update", Target: name + "/" + region,
				Decision: decision, Reason: reason, Detail: map[string]any{"image": res.ImageID, "instance": res.InstanceID}})
		}()
	}
	wg.Wait()
	return results, nil
}

func (s *Manager) updateRegion(ctx context.Context, svc Service, region string, home cloud.Image) (tollgate.RegionSetup, error) {
	rec, ok, err := s.o.DB.GetServiceRegion(ctx, svc.Name, region)
	if err != nil {
		return tollgate.RegionSetup{}, err
	}
	if !ok || rec.GroupID == "" {
		return tollgate.RegionSetup{}, fmt.Errorf("%s is not set up in %s: run setup first", svc.Name, region)
	}
	oldImage := rec.ImageID
	newImage := home.ID
	if region != svc.HomeRegion {
		tags := serviceTags(svc)
		tags["tollgate:source-image"] = home.ID
		if newImage, err = s.o.Cloud.CopyImage(ctx, region, svc.HomeRegion, home.ID, home.Name,
			"tollgate copy of "+home.ID+" for "+svc.Name, copyToken(svc.Name, region, home.ID), tags); err != nil {
			return tollgate.RegionSetup{}, err
		}
	}
	rec.ImageID = newImage
	if err := s.step(ctx, &rec, "image"); err != nil {
		return tollgate.RegionSetup{}, err
	}
	out := func() tollgate.RegionSetup {
		return tollgate.RegionSetup{ImageID: rec.ImageID, GroupID: rec.GroupID, InstanceID: rec.InstanceID}
	}
	if err := s.waitImage(ctx, region, newImage); err != nil {
		return out(), err
	}
	insts, err := s.o.Cloud.DescribeInstances(ctx, region, cloud.Filter{Tags: serviceTags(svc)})
	if err != nil {
		return out(), err
	}
	keep := ""
	for _, in := range insts {
		if in.ImageID == newImage && in.State != "terminated" && in.State != "shutting-down" {
			keep = in.ID
		}
	}
	if keep == "" {
		spec, err := s.spec(svc, region, rec)
		if err != nil {
			return out(), err
		}
		_, rows, err := s.o.Fleet.Launch(ctx, spec)
		if err != nil {
			return out(), err
		}
		keep = rows[0].ID
	}
	if err := s.stopInstance(ctx, svc, region, keep, "update: the new instance, stopped until its first run"); err != nil {
		return out(), err
	}
	rec.InstanceID = keep
	if err := s.step(ctx, &rec, "stopped"); err != nil {
		return out(), err
	}
	for _, in := range insts {
		if in.ID == keep || in.State == "terminated" || in.State == "shutting-down" {
			continue
		}
		if err := s.act(ctx, region, in.ID, fleet.Terminate, in.State, "update: replaced by "+keep); err != nil {
			return out(), err
		}
	}
	if oldImage != "" && oldImage != newImage && region != svc.HomeRegion {
		s.dropImage(ctx, region, oldImage)
	}
	return out(), nil
}

// dropImage deregisters an old copy and deletes its snapshot (best effort: check shows
// what is left).
func (s *Manager) dropImage(ctx context.Context, region, id string) {
	imgs, err := s.o.Cloud.DescribeImagesOwned(ctx, region, []string{"self"}, []string{id}, nil)
	if err != nil || len(imgs) == 0 {
		return
	}
	if err := s.o.Cloud.DeregisterImage(ctx, region, id); err != nil {
		s.o.Log.Warn("deregister an old image copy", "region", region, "image", id, "err", err)
		return
	}
	if snap := imgs[0].RootSnapshotID; snap != "" {
		if err := s.o.Cloud.DeleteSnapshot(ctx, region, snap); err != nil {
			s.o.Log.Warn("delete an old copy's snapshot", "region", region, "snapshot", snap, "err", err)
		}
	}
}
