package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// runAttempts bounds how often an ambiguous RunInstances failure is retried with the
// same client token (idempotent: the cloud launches at most once per token).
const runAttempts = 3

// Spec is one launch, for any purpose. The caller has decided it is allowed (a user's by
// admission; the balancer's and the services' by their own rules).
type Spec struct {
	Purpose tollgate.Purpose
	Actor   tollgate.Actor // who asked: the user, or the subsystem
	Owner   string         // whose instances these are (tag tollgate:owner)
	UID     int            // the owner's uid, or -1

	Region, Type, Image string
	Count               int
	Name                string // the Name tag; "" = "tollgate-<owner>"

	// KeyPair, if set, is made sure to exist in the region before the launch and is
	// the instances' key name.
	KeyPair *KeyPair

	SecurityGroups []string
	Subnet         string
	// AvailabilityZone places the instances ("" = EC2 chooses, or the subnet's).
	AvailabilityZone string
	InstanceProfile  string
	// DataVolumes are EBS volumes beyond the root (e.g. from snapshots), deleted with
	// the instance.
	DataVolumes  []cloud.DataVolume
	VolumeSizeGB int    // root volume; 0 = the image's
	VolumeType   string // "" = gp3
	UserData     []byte
	Spot         bool
	SpotMaxPrice string        // "" = up to the on-demand price
	Lifetime     time.Duration // 0 = no lease (no expiry tag, never reaped)
	Tags         map[string]string

	// PriceHourly and VCPUsEach are recorded with the launch for later admissions.
	PriceHourly float64
	VCPUsEach   int
}

// KeyPair is an SSH public key to import as the EC2 keypair Name, tagged with its owner.
type KeyPair struct {
	Name        string
	PublicKey   string
	Fingerprint string
	Owner       string // the tollgate:owner tag of the keypair; "" = Spec.Owner
}

// validate checks what every launch needs; the user path has checked more already.
func (s Spec) validate() error {
	switch {
	case !s.Purpose.Valid():
		return tollgate.Errorf(tollgate.CodeInvalidRequest, "purpose %q is not one of user, balancer, service", s.Purpose)
	case s.Owner == "":
		return tollgate.Errorf(tollgate.CodeInvalidRequest, "a launch needs an owner")
	case s.Region == "" || s.Type == "" || s.Image == "":
		return tollgate.Errorf(tollgate.CodeInvalidRequest, "a launch needs a region, an instance type and an image (got %q, %q, %q)", s.Region, s.Type, s.Image)
	case s.Count < 1:
		return tollgate.Errorf(tollgate.CodeInvalidRequest, "count must be at least 1: got %d", s.Count)
	}
	return nil
}

// Intend writes the launch record of s through q (state requested, a fresh client
// token) and returns it. The user path calls it inside its admission transaction, so the
// decision and the intent commit together; Launch calls it in its own.
func (f *Fleet) Intend(ctx context.Context, q db.Querier, s Spec) (db.Launch, error) {
	if err := s.validate(); err != nil {
		return db.Launch{}, err
	}
	now := f.now()
	l := db.Launch{
		ID: newLaunchID(now), ClientToken: newToken(), Purpose: string(s.Purpose), Owner: s.Owner, UID: s.UID,
		Region: s.Region, Type: s.Type, Image: s.Image, Count: s.Count, Name: s.Name, Spot: s.Spot,
		VCPUsEach: s.VCPUsEach, PriceHourly: s.PriceHourly, Lifetime: s.Lifetime,
		State: db.LaunchRequested, CreatedAt: now,
	}
	if s.Lifetime > 0 {
		l.ExpiresAt = now.Add(s.Lifetime)
	}
	if err := db.InsertLaunch(ctx, q, l); err != nil {
		return db.Launch{}, err
	}
	return l, nil
}

// Launch is the whole launch of s for callers with no admission transaction of their own
// (the balancer, the regional services): the intent and its audit entry, then Execute.
func (f *Fleet) Launch(ctx context.Context, s Spec) (db.Launch, []db.Instance, error) {
	var l db.Launch
	err := f.db.Immediate(ctx, func(tx *db.Tx) error {
		var err error
		if l, err = f.Intend(ctx, tx, s); err != nil {
			return err
		}
		return f.audit.Record(ctx, tx, s.Actor, audit.Entry{Action: audit.LaunchAdmit, Target: l.ID,
			Decision: decisionOf(s.Actor), Detail: map[string]any{"purpose": string(s.Purpose), "owner": s.Owner,
				"type": s.Type, "region": s.Region, "count": s.Count, "image": s.Image}})
	})
	if err != nil {
		return db.Launch{}, nil, fmt.Errorf("record launch intent: %w", err)
	}
	insts, err := f.Execute(ctx, s, l)
	return l, insts, err
}

// Execute carries out the launch l that Intend recorded for s: the keypair, RunInstances with
// l's client token and every tag at creation, then the instances recorded with the
// launch settled and audited. A crash anywhere after the intent is settled by Reconcile
// through the client token; an outcome Run cannot know is left for it too.
func (f *Fleet) Execute(ctx context.Context, s Spec, l db.Launch) ([]db.Instance, error) {
	f.hooks.call(func(h *Hooks) func() { return h.AfterIntent })
	log := f.log.With(logUser, l.Owner, logRequest, l.ID, logRegion, l.Region, logPurpose, l.Purpose)
	if kp := s.KeyPair; kp != nil {
		if err := f.ensureKeyPair(ctx, *kp, s.Owner, l.Region); err != nil {
			f.settleFailed(ctx, s.Actor, l, "import keypair: "+err.Error())
			log.Warn("keypair import failed", logErr, err)
			var e *tollgate.Error
			if errors.As(err, &e) {
				return nil, e
			}
			return nil, tollgate.Errorf(tollgate.CodeCloudError, "cannot import the SSH key as keypair %s in %s: %v", kp.Name, l.Region, err)
		}
	}
	f.hooks.call(func(h *Hooks) func() { return h.BeforeRun })
	insts, runErr := f.runInstances(ctx, s, l)
	f.hooks.call(func(h *Hooks) func() { return h.AfterRun })
	if runErr != nil {
		if definiteRefusal(runErr) {
			f.settleFailed(ctx, s.Actor, l, runErr.Error())
			log.Warn("RunInstances refused", logErr, runErr)
			return nil, tollgate.Errorf(tollgate.CodeCloudError, "EC2 refused the launch: %v", runErr).WithCause(runErr)
		}
		// Ambiguous: the cloud may have acted. Look the token up before deciding.
		found, lerr := f.cloud.DescribeInstances(ctx, l.Region, cloud.Filter{ClientToken: l.ClientToken})
		if lerr != nil || len(found) == 0 {
			log.Warn("launch outcome unknown; reconcile will settle it", logErr, runErr)
			return nil, tollgate.Errorf(tollgate.CodeCloudError,
				"the launch's outcome is unknown (%v); request %s will be settled by reconcile", runErr, l.ID).
				WithHint("run `tollgate ls` in a minute: if the instance was launched it will show")
		}
		insts = found
	}
	f.hooks.call(func(h *Hooks) func() { return h.BeforeRecord })
	rows, err := f.record(ctx, s.Actor, l, insts, false)
	if err != nil {
		return nil, err
	}
	log.Info("launched", logCount, len(rows))
	return rows, nil
}

// Tags is what every instance of l carries from its creation on: owner, uid, request,
// purpose, Name and, with a lease, its expiry; extra tags cannot override them.
func Tags(l db.Launch, extra map[string]string) map[string]string {
	name := l.Name
	if name == "" {
		name = "tollgate-" + l.Owner
	}
	tags := maps.Clone(extra)
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, map[string]string{
		cloud.TagOwner:   l.Owner,
		cloud.TagUID:     strconv.Itoa(l.UID),
		cloud.TagRequest: l.ID,
		cloud.TagPurpose: string(tollgate.PurposeOf(l.Purpose)),
		cloud.TagName:    name,
	})
	if !l.ExpiresAt.IsZero() {
		tags[cloud.TagExpires] = l.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return tags
}

// runInstances calls RunInstances, retrying ambiguous failures with the same client
// token: EC2 launches at most once per token, so a retry after a lost response returns
// the instances the first call created.
func (f *Fleet) runInstances(ctx context.Context, s Spec, l db.Launch) ([]cloud.Instance, error) {
	in := cloud.RunInput{
		Region: l.Region, ClientToken: l.ClientToken, ImageID: l.Image, Type: l.Type, Count: l.Count,
		SecurityGroups: s.SecurityGroups, Subnet: s.Subnet, InstanceProfile: s.InstanceProfile,
		AvailabilityZone: s.AvailabilityZone, DataVolumes: s.DataVolumes,
		UserData: s.UserData, Spot: l.Spot, SpotMaxPrice: s.SpotMaxPrice,
		VolumeSizeGB: s.VolumeSizeGB, VolumeType: s.VolumeType, Owner: l.Owner, Tags: Tags(l, s.Tags),
	}
	if s.KeyPair != nil {
		in.KeyName = s.KeyPair.Name
	}
	var last error
	for range runAttempts {
		insts, err := f.cloud.RunInstances(ctx, in)
		if err == nil {
			return insts, nil
		}
		last = err
		if definiteRefusal(err) || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

// record writes the launched instances and settles the launch, with its audit entry, in
// one transaction. adopted marks instances found by reconcile rather than returned by
// RunInstances.
func (f *Fleet) record(ctx context.Context, actor tollgate.Actor, l db.Launch, insts []cloud.Instance, adopted bool) ([]db.Instance, error) {
	now := f.now()
	var ids []string
	var rows []db.Instance
	for _, ci := range insts {
		row := instanceRow(ci, l, now)
		row.Adopted = adopted
		rows = append(rows, row)
		ids = append(ids, ci.ID)
	}
	err := f.db.Immediate(ctx, func(tx *db.Tx) error {
		for _, row := range rows {
			if _, err := db.InsertInstance(ctx, tx, row); err != nil {
				return err
			}
		}
		settled, err := db.SettleLaunch(ctx, tx, l.ID, db.LaunchLaunched, "", now)
		if err != nil || !settled {
			return err
		}
		action, decision := audit.Launch, decisionOf(actor)
		if actor.System == tollgate.SysReconcile {
			action = audit.ReconcileLaunch
		}
		return f.audit.Record(ctx, tx, actor, audit.Entry{Action: action, Target: joinIDs(ids), Decision: decision,
			Detail: map[string]any{"request": l.ID, "type": l.Type, "region": l.Region, "count": len(ids),
				"adopted": adopted, "purpose": string(tollgate.PurposeOf(l.Purpose))}})
	})
	if err != nil {
		return nil, fmt.Errorf("record launch %s: %w", l.ID, err)
	}
	return rows, nil
}

// instanceRow is the database row of an instance launched by l.
func instanceRow(ci cloud.Instance, l db.Launch, now time.Time) db.Instance {
	launched := ci.LaunchTime
	if launched.IsZero() {
		launched = now
	}
	region := ci.Region
	if region == "" {
		region = l.Region
	}
	return db.Instance{
		ID: ci.ID, LaunchID: l.ID, Owner: l.Owner, UID: l.UID, Region: region, Type: ci.Type,
		Image: ci.ImageID, Name: ci.Tags[cloud.TagName], Purpose: string(tollgate.PurposeOf(l.Purpose)),
		Spot: ci.Spot || l.Spot, Tracked: true, State: ci.State, PublicIP: ci.PublicIP, PrivateIP: ci.PrivateIP,
		LaunchedAt: launched, ExpiresAt: l.ExpiresAt, LastSeen: now, Tags: ci.Tags,
		PriceHourly: l.PriceHourly, VCPUsEach: l.VCPUsEach,
	}
}

// settleFailed closes a launch that certainly launched nothing.
func (f *Fleet) settleFailed(ctx context.Context, actor tollgate.Actor, l db.Launch, reason string) {
	now := f.now()
	err := f.db.Immediate(ctx, func(tx *db.Tx) error {
		settled, err := db.SettleLaunch(ctx, tx, l.ID, db.LaunchFailed, reason, now)
		if err != nil || !settled {
			return err
		}
		return f.audit.Record(ctx, tx, actor, audit.Entry{Action: audit.Launch, Target: l.ID, Decision: audit.Failed,
			Reason: reason, Detail: map[string]any{"request": l.ID}})
	})
	if err != nil {
		f.log.Error("settle failed launch", logRequest, l.ID, logErr, err)
	}
}

// decisionOf is how the audit log records what actor did: a user's request is allowed,
// the daemon's own action done.
func decisionOf(a tollgate.Actor) string {
	if a.IsSystem() {
		return audit.Done
	}
	return audit.Allowed
}

func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newLaunchID(now time.Time) string {
	b := make([]byte, 5)
	rand.Read(b)
	return "r-" + now.UTC().Format("20060102") + "-" + hex.EncodeToString(b)
}
