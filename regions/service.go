package regions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
)

// TagService names the service an instance, image or group belongs to.
const TagService = "tollgate:service"

// Owner is the owner recorded for a service's instances (reports show it with purpose
// service).
func Owner(service string) string { return "service:" + service }

// Names of what setup creates in each region, one per service.
func groupName(service string) string   { return "tollgate-service-" + service }
func keyPairName(service string) string { return "tollgate-service-" + service }

// Audit actions.
const (
	ActionSetup = "regions.setup"
	ActionRun   = "regions.run"
	prefix      = "regions" // instance actions: regions.start, regions.stop
)

// Cloud is what the regions need of EC2 and SSM besides fleet; *cloud.Client satisfies it.
type Cloud interface {
	DescribeInstances(ctx context.Context, region string, f cloud.Filter) ([]cloud.Instance, error)
	DescribeImagesOwned(ctx context.Context, region string, owners, ids, namePatterns []string) ([]cloud.Image, error)
	CopyImage(ctx context.Context, dstRegion, srcRegion, srcImage, name, description, clientToken string, tags map[string]string) (string, error)
	CreateSecurityGroup(ctx context.Context, region, name, description, vpcID string, tags map[string]string) (string, error)
	DescribeSecurityGroups(ctx context.Context, region string, f cloud.SecurityGroupFilter) ([]cloud.SecurityGroup, error)
	AuthorizeIngress(ctx context.Context, region, groupID string, perms []cloud.Permission) error
	AgentOnline(ctx context.Context, region, instance string) (bool, error)
	SendCommand(ctx context.Context, region, instance string, commands []string, timeout time.Duration) (string, error)
	GetCommandInvocation(ctx context.Context, region, commandID, instance string) (cloud.Invocation, error)
	DeregisterImage(ctx context.Context, region, id string) error
	DeleteSnapshot(ctx context.Context, region, id string) error
	DescribeSnapshots(ctx context.Context, region string, ids []string) ([]cloud.Snapshot, error)
	DescribeKeyPairTagged(ctx context.Context, region, name string) (cloud.TaggedKeyPair, bool, error)
	DeleteKeyPair(ctx context.Context, region, name string) error
	DeleteSecurityGroup(ctx context.Context, region, id string) error
	ConsoleOutput(ctx context.Context, region, id string) (string, error)
}

var _ Cloud = (*cloud.Client)(nil)

// Fleet is the launch and instance-action path; *fleet.Fleet satisfies it.
type Fleet interface {
	Launch(ctx context.Context, s fleet.Spec) (db.Launch, []db.Instance, error)
	Act(ctx context.Context, req fleet.ActionRequest) ([]fleet.ActionResult, error)
}

// Spend is what a run's budget check needs of accounting.
type Spend interface {
	SpentUSD(ctx context.Context, owner string, since time.Time) (float64, error)
}

// Options wires a Manager.
type Options struct {
	Services []Service
	DB       *db.DB
	Cloud    Cloud
	Fleet    Fleet
	Audit    *audit.Writer
	Spend    Spend                                     // nil: no budgets
	OnDemand func(region, typ string) (float64, error) // prices for the budget check
	Log      *slog.Logger
	Now      func() time.Time
	// Sleep waits d (or until ctx ends); tests advance the simulated clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// DialSSH connects the SSH runner to an instance (nil: its address, port 22 or
	// the service's ssh_port).
	DialSSH DialFunc
	// AfterStep, if set, is called after each recorded setup step (tests: a crash point).
	AfterStep func(region, step string)
}

// Manager sets up and runs the configured regional services.
type Manager struct {
	o        Options
	services map[string]Service
	mu       sync.Mutex
	running  map[string]bool // service/region with a run in progress
}

// New returns the manager of the configured services (defaults applied).
func New(o Options) (*Manager, error) {
	if o.DB == nil || o.Cloud == nil || o.Fleet == nil || o.Audit == nil {
		return nil, errors.New("regions: DB, Cloud, Fleet and Audit are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	s := &Manager{o: o, services: map[string]Service{}, running: map[string]bool{}}
	for _, svc := range o.Services {
		s.services[svc.Name] = svc.withDefaults()
	}
	return s, nil
}

func (s *Manager) service(name string) (Service, error) {
	svc, ok := s.services[name]
	if !ok {
		names := make([]string, 0, len(s.services))
		for n := range s.services {
			names = append(names, n)
		}
		slices.Sort(names)
		return Service{}, tollgate.Errorf(tollgate.CodeNotFound, "no regional service %q (configured: %v)", name, names)
	}
	return svc, nil
}

// pick is the regions named (all of the service's when none), each checked to be one.
func (svc Service) pick(regions []string) ([]string, error) {
	if len(regions) == 0 {
		return svc.Regions, nil
	}
	for _, r := range regions {
		if !slices.Contains(svc.Regions, r) {
			return nil, tollgate.Errorf(tollgate.CodeInvalidRequest, "%s is not one of %s's regions %v", r, svc.Name, svc.Regions)
		}
	}
	return regions, nil
}

// serviceTags are the tags of everything a service creates.
func serviceTags(svc Service) map[string]string {
	return map[string]string{cloud.TagPurpose: string(tollgate.PurposeService), TagService: svc.Name}
}

// Setup makes every region of the service (or those named) hold exactly one copy of the
// image, the keypair, the group and a stopped instance. It is idempotent and each step
// is recorded, so a setup killed anywhere resumes where it was. Regions run in parallel,
// at most Parallel at once.
func (s *Manager) Setup(ctx context.Context, by tollgate.Actor, name string, regions []string) ([]tollgate.RegionSetup, error) {
	svc, err := s.service(name)
	if err != nil {
		return nil, err
	}
	if regions, err = svc.pick(regions); err != nil {
		return nil, err
	}
	home, err := s.homeImage(ctx, svc)
	if err != nil {
		return nil, err
	}
	results := make([]tollgate.RegionSetup, len(regions))
	sem := make(chan struct{}, max(svc.Parallel, 1))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := s.setupRegion(ctx, svc, r, home)
			res.Region = r
			if err != nil {
				res.Error = err.Error()
			}
			results[i] = res
			decision, reason := audit.Done, ""
			if err != nil {
				decision, reason = audit.Failed, err.Error()
			}
			_ = s.o.Audit.Record(ctx, nil, by, audit.Entry{Action: ActionSetup, Target: name + "/" + r, Decision: decision,
				Reason: reason, Detail: map[string]any{"image": res.ImageID, "group": res.GroupID, "instance": res.InstanceID}})
		}()
	}
	wg.Wait()
	return results, nil
}

// homeImage is the service's image id in its home region (an id, or the newest image of
// that name the account owns).
func (s *Manager) homeImage(ctx context.Context, svc Service) (cloud.Image, error) {
	var imgs []cloud.Image
	var err error
	if strings.HasPrefix(svc.Image, "ami-") {
		imgs, err = s.o.Cloud.DescribeImagesOwned(ctx, svc.HomeRegion, []string{"self", "amazon"}, []string{svc.Image}, nil)
	} else {
		imgs, err = s.o.Cloud.DescribeImagesOwned(ctx, svc.HomeRegion, []string{"self"}, nil, []string{svc.Image})
	}
	if err != nil {
		return cloud.Image{}, fmt.Errorf("look up image %s in %s: %w", svc.Image, svc.HomeRegion, err)
	}
	if len(imgs) == 0 {
		return cloud.Image{}, tollgate.Errorf(tollgate.CodeNotFound, "no image %q owned by the account in %s", svc.Image, svc.HomeRegion)
	}
	slices.SortFunc(imgs, func(a, b cloud.Image) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return imgs[0], nil
}

// step records rec after a setup step, then calls the test crash point.
func (s *Manager) step(ctx context.Context, rec *db.ServiceRegion, step string) error {
	rec.Step, rec.UpdatedAt = step, s.o.Now()
	if err := s.o.DB.PutServiceRegion(ctx, *rec); err != nil {
		return err
	}
	if s.o.AfterStep != nil {
		s.o.AfterStep(rec.Region, step)
	}
	return nil
}

func (s *Manager) setupRegion(ctx context.Context, svc Service, region string, home cloud.Image) (tollgate.RegionSetup, error) {
	rec, _, err := s.o.DB.GetServiceRegion(ctx, svc.Name, region)
	if err != nil {
		return tollgate.RegionSetup{}, err
	}
	res := func() tollgate.RegionSetup {
		return tollgate.RegionSetup{ImageID: rec.ImageID, GroupID: rec.GroupID, InstanceID: rec.InstanceID}
	}
	// 1. The image: the home one, or a copy made once (the client token is derived
	// from the service, the region and the home image: a rerun gets the same copy).
	if region == svc.HomeRegion {
		rec.ImageID = home.ID
	} else {
		token := copyToken(svc.Name, region, home.ID)
		tags := serviceTags(svc)
		tags["tollgate:source-image"] = home.ID
		id, err := s.o.Cloud.CopyImage(ctx, region, svc.HomeRegion, home.ID, home.Name, "tollgate copy of "+home.ID+" for "+svc.Name, token, tags)
		if err != nil {
			return res(), err
		}
		rec.ImageID = id
	}
	if err := s.step(ctx, &rec, "image"); err != nil {
		return res(), err
	}
	if err := s.waitImage(ctx, region, rec.ImageID); err != nil {
		return res(), err
	}
	// 2. The security group, found again by its tags after a crash.
	gid, err := s.ensureGroup(ctx, svc, region)
	if err != nil {
		return res(), err
	}
	rec.GroupID = gid
	if err := s.step(ctx, &rec, "group"); err != nil {
		return res(), err
	}
	// 3. The instance, created once: tagged at creation, so the cloud says whether it
	// exists; a launch interrupted by a crash was settled by the start-up reconcile.
	inst, found, err := s.instance(ctx, svc, region)
	if err != nil {
		return res(), err
	}
	if !found {
		spec, err := s.spec(svc, region, rec)
		if err != nil {
			return res(), err
		}
		l, rows, err := s.o.Fleet.Launch(ctx, spec)
		rec.LaunchID = l.ID
		if err != nil {
			return res(), err
		}
		if len(rows) == 0 {
			return res(), fmt.Errorf("the launch in %s returned no instance", region)
		}
		rec.InstanceID = rows[0].ID
	} else {
		rec.InstanceID = inst.ID
	}
	if err := s.step(ctx, &rec, "instance"); err != nil {
		return res(), err
	}
	// 4. Stopped until a run.
	if err := s.stopInstance(ctx, svc, region, rec.InstanceID, "set up: stopped until its first run"); err != nil {
		return res(), err
	}
	if err := s.step(ctx, &rec, "stopped"); err != nil {
		return res(), err
	}
	return res(), nil
}

// waitImage waits until the image is available (a copy takes minutes).
func (s *Manager) waitImage(ctx context.Context, region, id string) error {
	deadline := s.o.Now().Add(time.Hour)
	for {
		imgs, err := s.o.Cloud.DescribeImagesOwned(ctx, region, []string{"self", "amazon"}, []string{id}, nil)
		if err != nil && !cloud.IsNotFound(err) {
			return err
		}
		if len(imgs) == 1 && (imgs[0].State == "available" || imgs[0].State == "") {
			return nil
		}
		if len(imgs) == 1 && imgs[0].State == "failed" {
			return fmt.Errorf("the copy %s in %s failed", id, region)
		}
		if s.o.Now().After(deadline) {
			return fmt.Errorf("the image %s in %s is still not available after an hour", id, region)
		}
		s.o.Log.Info("waiting for the image copy", "region", region, "image", id)
		if err := s.o.Sleep(ctx, 15*time.Second); err != nil {
			return err
		}
	}
}

// ensureGroup finds (by tag) or creates the service's group in region with the home
// group's ingress, or the configured rules.
func (s *Manager) ensureGroup(ctx context.Context, svc Service, region string) (string, error) {
	perms, err := s.wantPerms(ctx, svc)
	if err != nil {
		return "", err
	}
	gs, err := s.o.Cloud.DescribeSecurityGroups(ctx, region, cloud.SecurityGroupFilter{Tags: serviceTags(svc)})
	if err != nil {
		return "", err
	}
	id := ""
	if len(gs) > 0 {
		id = gs[0].ID
	} else {
		id, err = s.o.Cloud.CreateSecurityGroup(ctx, region, groupName(svc.Name), "tollgate regional service "+svc.Name, "", serviceTags(svc))
		if err != nil {
			return "", err
		}
	}
	if len(perms) > 0 {
		if err := s.o.Cloud.AuthorizeIngress(ctx, region, id, perms); err != nil {
			return "", err
		}
	}
	return id, nil
}

// wantPerms is the ingress every region's group gets.
func (s *Manager) wantPerms(ctx context.Context, svc Service) ([]cloud.Permission, error) {
	if svc.SecurityGroup == "" {
		var out []cloud.Permission
		for _, r := range svc.Rules {
			out = append(out, cloud.Permission{Protocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort, CIDRs: []string{r.CIDR}})
		}
		return out, nil
	}
	f := cloud.SecurityGroupFilter{Names: []string{svc.SecurityGroup}}
	if strings.HasPrefix(svc.SecurityGroup, "sg-") {
		f = cloud.SecurityGroupFilter{IDs: []string{svc.SecurityGroup}}
	}
	gs, err := s.o.Cloud.DescribeSecurityGroups(ctx, svc.HomeRegion, f)
	if err != nil {
		return nil, fmt.Errorf("security group %s in %s: %w", svc.SecurityGroup, svc.HomeRegion, err)
	}
	if len(gs) == 0 {
		return nil, tollgate.Errorf(tollgate.CodeNotFound, "no security group %s in %s to copy", svc.SecurityGroup, svc.HomeRegion)
	}
	var out []cloud.Permission
	for _, p := range gs[0].Ingress {
		if len(p.CIDRs) > 0 { // rules naming groups of the home region mean nothing elsewhere
			out = append(out, cloud.Permission{Protocol: p.Protocol, FromPort: p.FromPort, ToPort: p.ToPort, CIDRs: p.CIDRs})
		}
	}
	return out, nil
}

// instance is the service's instance in region, if one exists (not terminated).
func (s *Manager) instance(ctx context.Context, svc Service, region string) (cloud.Instance, bool, error) {
	insts, err := s.o.Cloud.DescribeInstances(ctx, region, cloud.Filter{Tags: serviceTags(svc)})
	if err != nil {
		return cloud.Instance{}, false, err
	}
	for _, in := range insts {
		if in.State != "terminated" && in.State != "shutting-down" {
			return in, true, nil
		}
	}
	return cloud.Instance{}, false, nil
}

// spec is the launch of the service's instance in region.
func (s *Manager) spec(svc Service, region string, rec db.ServiceRegion) (fleet.Spec, error) {
	tags := map[string]string{TagService: svc.Name}
	for k, v := range svc.Tags {
		if !strings.HasPrefix(k, "tollgate:") {
			tags[k] = v
		}
	}
	spec := fleet.Spec{Purpose: tollgate.PurposeService, Actor: tollgate.SystemActor(tollgate.SysRegions),
		Owner: Owner(svc.Name), UID: -1, Region: region, Type: svc.InstanceType, Image: rec.ImageID, Count: 1,
		Name: "tollgate-" + svc.Name, SecurityGroups: []string{rec.GroupID}, InstanceProfile: svc.InstanceProfile,
		VolumeSizeGB: svc.VolumeGB, Tags: tags}
	if p, err := s.o.OnDemand(region, svc.InstanceType); err == nil {
		spec.PriceHourly = p
	}
	if svc.PublicKeyFile != "" {
		b, err := os.ReadFile(svc.PublicKeyFile)
		if err != nil {
			return spec, fmt.Errorf("public_key_file: %w", err)
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			return spec, fmt.Errorf("public_key_file %s: %w", svc.PublicKeyFile, err)
		}
		spec.KeyPair = &fleet.KeyPair{Name: keyPairName(svc.Name), PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
			Fingerprint: ssh.FingerprintSHA256(pub)}
	}
	return spec, nil
}

// act carries out kind on the service's instance through the instance-action path,
// with the instance's current state from the cloud.
func (s *Manager) act(ctx context.Context, region, id, kind, state, reason string) error {
	rows, err := s.o.DB.ListInstances(ctx, nil, db.InstanceFilter{IDs: []string{id}})
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("instance %s in %s is not recorded (reconcile adopts it)", id, region)
	}
	rows[0].State = state
	res, err := s.o.Fleet.Act(ctx, fleet.ActionRequest{Kind: kind, Actor: tollgate.SystemActor(tollgate.SysRegions),
		Prefix: prefix, Instances: rows, Reason: func(db.Instance) string { return reason }})
	if err != nil {
		return err
	}
	if len(res) == 1 && res[0].Err != nil {
		return res[0].Err
	}
	if kind == fleet.Terminate {
		// The instance is gone: so is the host key pinned for it.
		if err := s.o.DB.UnpinHostKeys(ctx, id); err != nil {
			s.o.Log.Warn("forget the host keys of a terminated instance", "instance", id, "err", err)
		}
	}
	return nil
}

// waitState waits until the instance is in one of states.
func (s *Manager) waitState(ctx context.Context, region, id string, within time.Duration, states ...string) (string, error) {
	deadline := s.o.Now().Add(within)
	for {
		insts, err := s.o.Cloud.DescribeInstances(ctx, region, cloud.Filter{IDs: []string{id}})
		if err != nil && !cloud.IsNotFound(err) {
			return "", err
		}
		st := ""
		if len(insts) == 1 {
			st = insts[0].State
		}
		if slices.Contains(states, st) {
			return st, nil
		}
		if st == "terminated" || s.o.Now().After(deadline) {
			return st, fmt.Errorf("instance %s in %s is %q, not %v, after %s", id, region, st, states, within)
		}
		if err := s.o.Sleep(ctx, 5*time.Second); err != nil {
			return st, err
		}
	}
}

// stopInstance stops the instance unless it is stopped or stopping already (a pending
// one is waited for: EC2 cannot stop it yet).
func (s *Manager) stopInstance(ctx context.Context, svc Service, region, id, reason string) error {
	st, err := s.waitState(ctx, region, id, 10*time.Minute, "running", "stopped", "stopping")
	if err != nil {
		return err
	}
	if st != "running" {
		return nil
	}
	return s.act(ctx, region, id, fleet.Stop, st, reason)
}
