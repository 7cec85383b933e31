package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/quota"
)

func (d *Daemon) handleLaunch(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.LaunchRequest
	if err := decodeBody(r, &req, maxLaunchBody); err != nil {
		d.audit(ctx, nil, c, audit.Launch, "", audit.Refused, err.Error(), nil)
		return nil, err
	}
	return d.launch(ctx, c, req)
}

// launch is the user's crash-safe launch: admission and the launch's intent in one
// BEGIN IMMEDIATE transaction, then the fleet's launch path (keypair, RunInstances with
// the intent's client token and tag-on-create, the instances recorded). A crash anywhere
// after the intent is settled by reconcile through the client token.
func (d *Daemon) launch(ctx context.Context, c *caller, req api.LaunchRequest) (api.LaunchResponse, error) {
	refuse := func(err error) (api.LaunchResponse, error) {
		d.audit(ctx, nil, c, audit.Launch, "", audit.Refused, err.Error(), launchDetail(req, ""))
		return api.LaunchResponse{}, err
	}
	a, err := d.admit(ctx, c, req)
	if err != nil {
		var ref *quota.Refusal
		var e *tollgate.Error
		switch {
		case errors.As(err, &ref):
			return api.LaunchResponse{}, err // audited in the admission transaction
		case errors.As(err, &e):
			return refuse(err)
		}
		d.audit(ctx, nil, c, audit.Launch, "", audit.Failed, "internal error", launchDetail(req, ""))
		return api.LaunchResponse{}, err
	}
	rows, err := d.fleet.Execute(ctx, a.spec, a.launch)
	if err != nil {
		return api.LaunchResponse{}, err
	}
	out := make([]api.Instance, len(rows))
	for i, row := range rows {
		out[i] = apiInstance(row)
	}
	return api.LaunchResponse{RequestID: a.launch.ID, Instances: out}, nil
}

// admitted is an admitted launch: its intent and the spec the fleet launches (with the
// policy's security groups, subnet and volumes, and the SSH key checked on file).
type admitted struct {
	launch db.Launch
	spec   fleet.Spec
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
			return admitted{}, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "lifetime: " + err.Error()}
		}
	}
	// Fill the defaults Admit would, so the image is resolved in the right region and the
	// right type is priced.
	qr = quota.WithDefaults(pol, qr)
	// A pre-check with nothing held and a free instance: every refusal it gives is real,
	// and it keeps cloud calls and price lookups away from choices policy forbids.
	if _, ref := quota.Admit(pol, qr, quota.Usage{}, quota.Price{}); ref != nil && ref.Limit != "images" {
		return admitted{}, &tollgate.Error{Code: ref.Code, Message: ref.Message}
	}
	if qr.Image != "" && !slices.Contains(pol.Images, qr.Image) {
		img, err := d.resolveImage(ctx, qr.Region, qr.Image, pol.Owners())
		if err != nil {
			return admitted{}, err
		}
		qr.Image, qr.ImageName = img.ID, img.Name
	}
	if _, ref := quota.Admit(pol, qr, quota.Usage{}, quota.Price{}); ref != nil {
		return admitted{}, &tollgate.Error{Code: ref.Code, Message: ref.Message}
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
		return admitted{}, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "you have no SSH public key on file for the instance's keypair",
			Hint: "run `tollgate keys ssh` (it creates ~/.ssh/tollgate_ed25519 and uploads its public key; --public-key FILE uses another)"}
	}
	now := d.now()
	spent, err := d.spent(ctx, c.Name, pol, now)
	if err != nil {
		return admitted{}, err
	}
	var l db.Launch
	var spec fleet.Spec
	var refusal *quota.Refusal
	err = d.db.Immediate(ctx, func(tx *db.Tx) error {
		usage, err := d.holdings(ctx, tx, c.Name, now, nil)
		if err != nil {
			return err
		}
		usage.SpentUSD = spent
		dec, ref := quota.Admit(pol, qr, usage, price)
		if ref != nil {
			refusal = ref
			return d.audit(ctx, tx, c, audit.Launch, "", audit.Refused, ref.Message,
				map[string]any{"limit": ref.Limit, "code": ref.Code, "type": qr.Type, "region": qr.Region, "count": qr.Count})
		}
		r := dec.Request
		spec = fleet.Spec{
			Purpose: tollgate.PurposeUser, Actor: c.actor(), Owner: c.Name, UID: c.UID,
			Region: r.Region, Type: r.Type, Image: r.Image, Count: r.Count, Name: r.Name, Spot: r.Spot,
			// The product contract: users find their keypair by their own name.
			KeyPair:        &fleet.KeyPair{Name: c.Name, PublicKey: key.PublicKey, Fingerprint: key.Fingerprint},
			SecurityGroups: pol.SecurityGroups, Subnet: pol.Subnet, InstanceProfile: pol.InstanceProfile,
			VolumeSizeGB: pol.VolumeSizeGB, VolumeType: pol.VolumeType, UserData: req.UserData,
			Lifetime: r.Lifetime, PriceHourly: price.HourlyUSD, VCPUsEach: price.VCPUs,
		}
		if l, err = d.fleet.Intend(ctx, tx, spec); err != nil {
			return err
		}
		return d.audit(ctx, tx, c, audit.LaunchAdmit, l.ID, audit.Allowed, "",
			map[string]any{"type": l.Type, "region": l.Region, "count": l.Count, "image": l.Image,
				"spot": l.Spot, "lifetime": quota.FormatDuration(l.Lifetime), "projected_usd": dec.ProjectedUSD})
	})
	if err != nil {
		return admitted{}, fmt.Errorf("admit launch: %w", err)
	}
	if refusal != nil {
		return admitted{}, refusal
	}
	return admitted{launch: l, spec: spec}, nil
}

// priceOf is the on-demand price and vCPUs of typ in region. Spot requests are projected
// at the on-demand price: an upper bound, since spot never costs more here.
func (d *Daemon) priceOf(region, typ string) (quota.Price, error) {
	h, err := d.prices.OnDemand(region, typ)
	if err != nil {
		return quota.Price{}, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: fmt.Sprintf("no price known for %s in %s: %v", typ, region, err),
			Hint: "an admin can add it under [accounting.prices]"}
	}
	v, err := d.prices.VCPUs(typ)
	if err != nil {
		return quota.Price{}, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: fmt.Sprintf("vCPUs of %s unknown: %v", typ, err)}
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

func launchDetail(req api.LaunchRequest, id string) map[string]any {
	m := map[string]any{"type": req.Type, "region": req.Region, "count": req.Count, "image": req.Image}
	if id != "" {
		m["request"] = id
	}
	return m
}
