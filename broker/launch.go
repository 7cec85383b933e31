package broker

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// runAttempts bounds how often an ambiguous RunInstances failure is retried with the
// same client token (idempotent: the cloud launches at most once per token).
const runAttempts = 3

func (d *Daemon) handleLaunch(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.LaunchRequest
	if err := decodeBody(r, &req, maxLaunchBody); err != nil {
		d.audit(ctx, nil, c, "launch", "", db.Refused, err.Error(), nil)
		return nil, err
	}
	return d.launch(ctx, c, req)
}

// launch is DESIGN.md's crash-safe launch: admission and the launch record in one
// BEGIN IMMEDIATE transaction, then the keypair, RunInstances with the record's client
// token and tag-on-create, then the instances recorded. A crash anywhere after the record
// is settled by reconcile through the client token.
func (d *Daemon) launch(ctx context.Context, c *caller, req api.LaunchRequest) (api.LaunchResponse, error) {
	refuse := func(err error) (api.LaunchResponse, error) {
		d.audit(ctx, nil, c, "launch", "", db.Refused, err.Error(), launchDetail(req, ""))
		return api.LaunchResponse{}, err
	}
	a, err := d.admit(ctx, c, req)
	if err != nil {
		var ref *quota.Refusal
		var e *api.Error
		switch {
		case errors.As(err, &ref):
			return api.LaunchResponse{}, err // audited in the admission transaction
		case errors.As(err, &e):
			return refuse(err)
		}
		d.audit(ctx, nil, c, "launch", "", db.Failed, "internal error", launchDetail(req, ""))
		return api.LaunchResponse{}, err
	}
	l := a.launch
	d.hooks.call(func(h *Hooks) func() { return h.AfterIntent })
	log := d.log.With(logUser, c.Name, logRequest, l.ID, logRegion, l.Region)

	if err := d.ensureKeyPair(ctx, c.Name, l.Region, a.key); err != nil {
		d.settleFailed(ctx, c, l, "import keypair: "+err.Error())
		log.Warn("keypair import failed", logErr, err)
		var e *api.Error
		if errors.As(err, &e) {
			return api.LaunchResponse{}, e
		}
		return api.LaunchResponse{}, &api.Error{Code: api.CodeCloudError,
			Message: fmt.Sprintf("cannot import your SSH key as keypair %s in %s: %v", c.Name, l.Region, err)}
	}
	d.hooks.call(func(h *Hooks) func() { return h.BeforeRun })
	insts, runErr := d.run(ctx, l, a.policy, req.UserData)
	d.hooks.call(func(h *Hooks) func() { return h.AfterRun })
	if runErr != nil {
		if definiteRefusal(runErr) {
			d.settleFailed(ctx, c, l, runErr.Error())
			log.Warn("RunInstances refused", logErr, runErr)
			return api.LaunchResponse{}, &api.Error{Code: api.CodeCloudError, Message: fmt.Sprintf("EC2 refused the launch: %v", runErr)}
		}
		// Ambiguous: the cloud may have acted. Look the token up before deciding.
		found, lerr := d.cloud.DescribeInstances(ctx, l.Region, cloud.Filter{ClientToken: l.ClientToken})
		if lerr != nil || len(found) == 0 {
			log.Warn("launch outcome unknown; reconcile will settle it", logErr, runErr)
			return api.LaunchResponse{}, &api.Error{Code: api.CodeCloudError,
				Message: fmt.Sprintf("the launch's outcome is unknown (%v); request %s will be settled by reconcile", runErr, l.ID),
				Hint:    "run `tollgate ls` in a minute: if the instance was launched it will show"}
		}
		insts = found
	}
	d.hooks.call(func(h *Hooks) func() { return h.BeforeRecord })
	out, err := d.record(ctx, c, l, insts, false)
	if err != nil {
		return api.LaunchResponse{}, err
	}
	log.Info("launched", logCount, len(out))
	return api.LaunchResponse{RequestID: l.ID, Instances: out}, nil
}

// admitted is an admitted launch: its record, the policy it was decided under (the
// launch applies that policy's security groups, subnet and volumes) and the SSH key
// checked on file (the one the keypair is imported from).
type admitted struct {
	launch db.Launch
	policy quota.Policy
	key    db.SSHKey
}

// admit resolves the policy, the image and the price, then decides and writes the launch
// record in one BEGIN IMMEDIATE transaction, so concurrent requests cannot overshoot a
// limit. A refusal is audited in the same transaction and returned as *quota.Refusal.
func (d *Daemon) admit(ctx context.Context, c *caller, req api.LaunchRequest) (admitted, error) {
	pol, err := d.policyFor(c)
	if err != nil {
		return admitted{}, err
	}
	qr := quota.Request{Type: req.Type, Image: req.Image, Region: req.Region, Count: req.Count,
		Spot: req.Spot, UserData: len(req.UserData), Name: req.Name}
	if req.Lifetime != "" {
		if qr.Lifetime, err = quota.ParseDuration(req.Lifetime); err != nil {
			return admitted{}, &api.Error{Code: api.CodeInvalidRequest, Message: "lifetime: " + err.Error()}
		}
	}
	// Fill the defaults Admit would, so the image is resolved in the right region and the
	// right type is priced.
	qr = quota.WithDefaults(pol, qr)
	// A pre-check with nothing held and a free instance: every refusal it gives is real,
	// and it keeps cloud calls and price lookups away from choices policy forbids.
	if _, ref := quota.Admit(pol, qr, quota.Usage{}, quota.Price{}); ref != nil && ref.Limit != "images" {
		return admitted{}, &api.Error{Code: ref.Code, Message: ref.Message}
	}
	if qr.Image != "" && !slices.Contains(pol.Images, qr.Image) {
		img, err := d.resolveImage(ctx, qr.Region, qr.Image, pol.Owners())
		if err != nil {
			return admitted{}, err
		}
		qr.Image, qr.ImageName = img.ID, img.Name
	}
	if _, ref := quota.Admit(pol, qr, quota.Usage{}, quota.Price{}); ref != nil {
		return admitted{}, &api.Error{Code: ref.Code, Message: ref.Message}
	}
	price, err := d.priceOf(qr.Region, qr.Type)
	if err != nil {
		return admitted{}, err
	}
	key, ok, err := d.db.GetSSHKey(ctx, c.Name)
	if err != nil {
		return admitted{}, err
	}
	if !ok {
		return admitted{}, &api.Error{Code: api.CodeInvalidRequest, Message: "you have no SSH public key on file for the instance's keypair",
			Hint: "run `tollgate keys ssh` (it creates ~/.ssh/tollgate_ed25519 and uploads its public key; --public-key FILE uses another)"}
	}
	now := d.now()
	spent, err := d.spent(ctx, c.Name, pol, now)
	if err != nil {
		return admitted{}, err
	}
	var l db.Launch
	var refusal *quota.Refusal
	err = d.db.Immediate(ctx, func(tx *sql.Tx) error {
		usage, err := d.holdings(ctx, tx, c.Name, now, nil)
		if err != nil {
			return err
		}
		usage.SpentUSD = spent
		dec, ref := quota.Admit(pol, qr, usage, price)
		if ref != nil {
			refusal = ref
			return d.audit(ctx, tx, c, "launch", "", db.Refused, ref.Message,
				map[string]any{"limit": ref.Limit, "code": ref.Code, "type": qr.Type, "region": qr.Region, "count": qr.Count})
		}
		r := dec.Request
		l = db.Launch{
			ID: newLaunchID(now), ClientToken: newToken(), Owner: c.Name, UID: c.UID,
			Region: r.Region, Type: r.Type, Image: r.Image, Count: r.Count, Name: r.Name, Spot: r.Spot,
			VCPUsEach: price.VCPUs, PriceHourly: price.HourlyUSD, Lifetime: r.Lifetime,
			ExpiresAt: now.Add(r.Lifetime), State: db.LaunchRequested, CreatedAt: now,
		}
		if err := db.InsertLaunch(ctx, tx, l); err != nil {
			return err
		}
		return d.audit(ctx, tx, c, "launch.admit", l.ID, db.Allowed, "",
			map[string]any{"type": l.Type, "region": l.Region, "count": l.Count, "image": l.Image,
				"spot": l.Spot, "lifetime": quota.FormatDuration(l.Lifetime), "projected_usd": dec.ProjectedUSD})
	})
	if err != nil {
		return admitted{}, fmt.Errorf("admit launch: %w", err)
	}
	if refusal != nil {
		return admitted{}, refusal
	}
	return admitted{launch: l, policy: pol, key: key}, nil
}

// priceOf is the on-demand price and vCPUs of typ in region. Spot requests are projected
// at the on-demand price: an upper bound, since spot never costs more here.
func (d *Daemon) priceOf(region, typ string) (quota.Price, error) {
	h, err := d.prices.OnDemand(region, typ)
	if err != nil {
		return quota.Price{}, &api.Error{Code: api.CodeInvalidRequest, Message: fmt.Sprintf("no price known for %s in %s: %v", typ, region, err),
			Hint: "an admin can add it under [accounting.prices]"}
	}
	v, err := d.prices.VCPUs(typ)
	if err != nil {
		return quota.Price{}, &api.Error{Code: api.CodeInvalidRequest, Message: fmt.Sprintf("vCPUs of %s unknown: %v", typ, err)}
	}
	return quota.Price{HourlyUSD: h, VCPUs: v}, nil
}

// spent is the user's spend since the start of the policy's budget period.
func (d *Daemon) spent(ctx context.Context, user string, pol quota.Policy, now time.Time) (float64, error) {
	if pol.BudgetUSD <= 0 {
		return 0, nil
	}
	start := d.periodStart(pol, user, now)
	s, err := d.acct.SpentUSD(ctx, user, start)
	if err != nil {
		return 0, fmt.Errorf("spend of %s: %w", user, err)
	}
	return s, nil
}

// periodStart is the start of the policy's budget period, as accounting computes it for
// usage and budget enforcement.
func (d *Daemon) periodStart(pol quota.Policy, user string, now time.Time) time.Time {
	start, _ := d.acct.PeriodFor(pol, user, now)
	return start
}

// run calls RunInstances, retrying ambiguous failures with the same client token: EC2
// launches at most once per token, so a retry after a lost response returns the
// instances the first call created.
func (d *Daemon) run(ctx context.Context, l db.Launch, pol quota.Policy, userData []byte) ([]cloud.Instance, error) {
	name := l.Name
	if name == "" {
		name = "tollgate-" + l.Owner
	}
	in := cloud.RunInput{
		Region: l.Region, ClientToken: l.ClientToken, ImageID: l.Image, Type: l.Type, Count: l.Count,
		KeyName: l.Owner, SecurityGroups: pol.SecurityGroups, Subnet: pol.Subnet,
		InstanceProfile: pol.InstanceProfile, UserData: userData, Spot: l.Spot,
		VolumeSizeGB: pol.VolumeSizeGB, VolumeType: pol.VolumeType, Owner: l.Owner,
		Tags: map[string]string{
			cloud.TagOwner:   l.Owner,
			cloud.TagUID:     strconv.Itoa(l.UID),
			cloud.TagRequest: l.ID,
			cloud.TagExpires: l.ExpiresAt.UTC().Format(time.RFC3339),
			cloud.TagPurpose: "user",
			cloud.TagName:    name,
		},
	}
	var last error
	for i := 0; i < runAttempts; i++ {
		insts, err := d.cloud.RunInstances(ctx, in)
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
func (d *Daemon) record(ctx context.Context, c *caller, l db.Launch, insts []cloud.Instance, adopted bool) ([]api.Instance, error) {
	now := d.now()
	var ids []string
	var rows []db.Instance
	for _, ci := range insts {
		row := instanceRow(ci, l, now)
		row.Adopted = adopted
		rows = append(rows, row)
		ids = append(ids, ci.ID)
	}
	err := d.db.Immediate(ctx, func(tx *sql.Tx) error {
		for _, row := range rows {
			if _, err := db.InsertInstance(ctx, tx, row); err != nil {
				return err
			}
		}
		settled, err := db.SettleLaunch(ctx, tx, l.ID, db.LaunchLaunched, "", now)
		if err != nil || !settled {
			return err
		}
		action, decision := "launch", db.Allowed
		if c == nil {
			action, decision = "reconcile.launch", db.Done
		}
		return d.audit(ctx, tx, c, action, joinIDs(ids), decision, "",
			map[string]any{"request": l.ID, "type": l.Type, "region": l.Region, "count": len(ids), "adopted": adopted})
	})
	if err != nil {
		return nil, fmt.Errorf("record launch %s: %w", l.ID, err)
	}
	out := make([]api.Instance, len(rows))
	for i, row := range rows {
		out[i] = apiInstance(row)
	}
	return out, nil
}

// instanceRow is the database row of an instance launched by l.
func instanceRow(ci cloud.Instance, l db.Launch, now time.Time) db.Instance {
	launched := ci.LaunchTime
	if launched.IsZero() {
		launched = now
	}
	return db.Instance{
		ID: ci.ID, LaunchID: l.ID, Owner: l.Owner, UID: l.UID, Region: l.Region, Type: ci.Type,
		Image: ci.ImageID, Name: ci.Tags[cloud.TagName], Purpose: "user", Spot: ci.Spot || l.Spot, Tracked: true,
		State: ci.State, PublicIP: ci.PublicIP, PrivateIP: ci.PrivateIP, LaunchedAt: launched,
		ExpiresAt: l.ExpiresAt, LastSeen: now, Tags: ci.Tags, PriceHourly: l.PriceHourly, VCPUsEach: l.VCPUsEach,
	}
}

// settleFailed closes a launch that certainly launched nothing.
func (d *Daemon) settleFailed(ctx context.Context, c *caller, l db.Launch, reason string) {
	now := d.now()
	err := d.db.Immediate(ctx, func(tx *sql.Tx) error {
		settled, err := db.SettleLaunch(ctx, tx, l.ID, db.LaunchFailed, reason, now)
		if err != nil || !settled {
			return err
		}
		return d.audit(ctx, tx, c, "launch", l.ID, db.Failed, reason, map[string]any{"request": l.ID})
	})
	if err != nil {
		d.log.Error("settle failed launch", logRequest, l.ID, logErr, err)
	}
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

func launchDetail(req api.LaunchRequest, id string) map[string]any {
	m := map[string]any{"type": req.Type, "region": req.Region, "count": req.Count, "image": req.Image}
	if id != "" {
		m["request"] = id
	}
	return m
}
