package regions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/fleet"
)

// Check reports, per region of the service, what setup made and what differs from it
// or from the configuration (an image deregistered by hand, a missing group, an image
// older than the home image, an instance left running).
func (s *Manager) Check(ctx context.Context, name string) ([]tollgate.RegionCheck, error) {
	svc, err := s.service(name)
	if err != nil {
		return nil, err
	}
	home, homeErr := s.homeImage(ctx, svc)
	var out []tollgate.RegionCheck
	for _, region := range svc.Regions {
		c := tollgate.RegionCheck{Region: region, Snapshots: []string{}, Drift: []string{}}
		drift := func(format string, args ...any) { c.Drift = append(c.Drift, fmt.Sprintf(format, args...)) }
		rec, ok, err := s.o.DB.GetServiceRegion(ctx, name, region)
		if err != nil {
			return nil, err
		}
		c.SetUp, c.Step = ok && rec.Step == "stopped" || rec.Step == "ran", rec.Step
		if !ok {
			drift("not set up")
		}
		if region == svc.HomeRegion && homeErr != nil {
			drift("the home image: %v", homeErr)
		}
		if rec.ImageID != "" {
			c.ImageID = rec.ImageID
			imgs, err := s.o.Cloud.DescribeImagesOwned(ctx, region, []string{"self", "amazon"}, []string{rec.ImageID}, nil)
			switch {
			case err != nil && !cloud.IsNotFound(err):
				return nil, err
			case len(imgs) == 0:
				drift("image %s is gone (deregistered outside tollgate): run setup again", rec.ImageID)
			default:
				c.ImageState = imgs[0].State
				if imgs[0].RootSnapshotID != "" {
					c.Snapshots = append(c.Snapshots, imgs[0].RootSnapshotID)
				}
				if src := imgs[0].Tags["tollgate:source-image"]; homeErr == nil && region != svc.HomeRegion && src != home.ID {
					c.ImageStale = true
					drift("image %s copies %s, older than the home image %s: run update", rec.ImageID, src, home.ID)
				}
			}
		}
		if ok {
			if _, found, err := s.o.Cloud.DescribeKeyPairTagged(ctx, region, keyPairName(name)); err == nil {
				c.KeyPair = found
				if !found && svc.PublicKeyFile != "" {
					drift("keypair %s is missing", keyPairName(name))
				}
			}
		}
		if rec.GroupID != "" {
			c.GroupID = rec.GroupID
			gs, err := s.o.Cloud.DescribeSecurityGroups(ctx, region, cloud.SecurityGroupFilter{IDs: []string{rec.GroupID}})
			if (err != nil && cloud.IsNotFound(err)) || (err == nil && len(gs) == 0) {
				drift("security group %s is missing", rec.GroupID)
			} else if err != nil {
				return nil, err
			}
		}
		if rec.InstanceID != "" {
			c.InstanceID = rec.InstanceID
			insts, err := s.o.Cloud.DescribeInstances(ctx, region, cloud.Filter{IDs: []string{rec.InstanceID}})
			if err != nil && !cloud.IsNotFound(err) {
				return nil, err
			}
			if len(insts) == 1 {
				c.InstanceState = insts[0].State
			}
			switch {
			case c.InstanceState == "" || c.InstanceState == "terminated" || c.InstanceState == "shutting-down":
				drift("instance %s is gone: run setup again", rec.InstanceID)
			case c.InstanceState == "running" && !s.isRunning(name, region):
				drift("instance %s is running with no run in progress", rec.InstanceID)
			}
		}
		if runs, err := s.o.DB.ListServiceRuns(ctx, name, "", 200); err == nil {
			for _, r := range runs {
				if r.Region == region {
					v := s.runView(svc, r)
					c.LastRun = &v
					break
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Clear removes everything of the service from region (never the home region): the
// instance is terminated and waited for, the image deregistered and its snapshot
// deleted, then the keypair and the group (retried while the group's instance drains).
func (s *Manager) Clear(ctx context.Context, by tollgate.Actor, name, region string) error {
	svc, err := s.service(name)
	if err != nil {
		return err
	}
	if region == svc.HomeRegion {
		return tollgate.Errorf(tollgate.CodeInvalidRequest, "%s is %s's home region: its image is the one the others copy, and clear never removes it", region, name)
	}
	if s.isRunning(name, region) {
		return tollgate.Errorf(tollgate.CodeConflict, "a run of %s in %s is in progress", name, region)
	}
	target := name + "/" + region
	fail := func(step string, err error) error {
		_ = s.o.Audit.Record(ctx, nil, by, audit.Entry{Action: "regions.clear", Target: target, Decision: audit.Failed,
			Reason: step + ": " + err.Error()})
		return fmt.Errorf("clear %s in %s: %s: %w", name, region, step, err)
	}
	insts, err := s.o.Cloud.DescribeInstances(ctx, region, cloud.Filter{Tags: serviceTags(svc)})
	if err != nil {
		return fail("list instances", err)
	}
	for _, in := range insts {
		if in.State == "terminated" {
			continue
		}
		if in.State != "shutting-down" {
			if err := s.act(ctx, region, in.ID, fleet.Terminate, in.State, "regions clear"); err != nil {
				return fail("terminate "+in.ID, err)
			}
		}
		if _, err := s.waitState(ctx, region, in.ID, 10*time.Minute, "terminated"); err != nil {
			return fail("wait for "+in.ID, err)
		}
	}
	imgs, err := s.o.Cloud.DescribeImagesOwned(ctx, region, []string{"self"}, nil, []string{"*"})
	if err != nil {
		return fail("list images", err)
	}
	for _, im := range imgs {
		if im.Tags[TagService] != name {
			continue
		}
		if err := s.o.Cloud.DeregisterImage(ctx, region, im.ID); err != nil {
			return fail("deregister "+im.ID, err)
		}
		if im.RootSnapshotID != "" {
			if err := s.o.Cloud.DeleteSnapshot(ctx, region, im.RootSnapshotID); err != nil {
				return fail("delete snapshot "+im.RootSnapshotID, err)
			}
		}
	}
	// Snapshots of images already deregistered (by hand, or a clear interrupted after the
	// deregistration) are found by the image id in their description, as EC2 writes it.
	if rec, ok, err := s.o.DB.GetServiceRegion(ctx, name, region); err == nil && ok && rec.ImageID != "" {
		snaps, err := s.o.Cloud.DescribeSnapshots(ctx, region, nil)
		if err != nil {
			return fail("list snapshots", err)
		}
		for _, sn := range snaps {
			if strings.Contains(sn.Description, rec.ImageID) {
				if err := s.o.Cloud.DeleteSnapshot(ctx, region, sn.ID); err != nil {
					return fail("delete snapshot "+sn.ID, err)
				}
			}
		}
	}
	if kp, found, err := s.o.Cloud.DescribeKeyPairTagged(ctx, region, keyPairName(name)); err == nil && found && kp.Tags[cloud.TagOwner] == Owner(name) {
		if err := s.o.Cloud.DeleteKeyPair(ctx, region, keyPairName(name)); err != nil {
			return fail("delete keypair", err)
		}
	}
	if err := s.o.DB.DeleteKeyImport(ctx, keyPairName(name), region); err != nil {
		return fail("forget keypair", err)
	}
	gs, err := s.o.Cloud.DescribeSecurityGroups(ctx, region, cloud.SecurityGroupFilter{Tags: serviceTags(svc)})
	if err != nil {
		return fail("list groups", err)
	}
	for _, g := range gs {
		for deadline := s.o.Now().Add(10 * time.Minute); ; {
			err := s.o.Cloud.DeleteSecurityGroup(ctx, region, g.ID)
			if err == nil {
				break
			}
			if !cloud.IsDependencyViolation(err) || s.o.Now().After(deadline) {
				return fail("delete group "+g.ID, err)
			}
			if err := s.o.Sleep(ctx, 15*time.Second); err != nil {
				return fail("delete group "+g.ID, err)
			}
		}
	}
	if err := s.o.DB.DeleteServiceRegion(ctx, name, region); err != nil {
		return fail("forget the setup", err)
	}
	return s.o.Audit.Record(ctx, nil, by, audit.Entry{Action: "regions.clear", Target: target, Decision: audit.Done})
}
