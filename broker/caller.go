package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// caller is who sent a request: the peer uid the kernel reported at accept, resolved
// through NSS, with the enrolment the database holds.
type caller struct {
	UserInfo
	Admin    bool
	Enrolled bool
	Disabled bool
	// EnrollGroup is the enrolment group the caller is a member of now ("" if none).
	EnrollGroup string
	row         *db.User // nil if the user has no users row (yet)
}

// identify resolves the peer uid to a caller. It never fails for an unknown uid: such a
// caller is simply not enrolled and not an admin (uid 0 aside).
func (d *Daemon) identify(ctx context.Context, uid int) (*caller, error) {
	c := &caller{UserInfo: UserInfo{UID: uid}}
	info, err := d.users.LookupUID(uid)
	switch {
	case errors.Is(err, ErrNoSuchUser):
		c.Admin = uid == 0
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("resolve uid %d: %w", uid, err)
	}
	c.UserInfo = info
	c.Admin = uid == 0 || slices.Contains(info.Groups, d.cfg.Broker.AdminGroup)
	row, ok, err := d.userRows.get(ctx, d.db, info.Name)
	if err != nil {
		return nil, err
	}
	c.EnrollGroup = d.enrollGroupOf(info)
	if ok {
		c.row = &row
		c.Disabled = row.Disabled
		// A group enrolment lasts as long as the membership (as NSS reports it now,
		// within its cache time): a user removed from the group loses access.
		c.Enrolled = !row.Disabled && (row.Source != db.SourceGroup || c.EnrollGroup != "")
		return c, nil
	}
	c.Enrolled = c.EnrollGroup != ""
	return c, nil
}

// enrollGroupOf is the first configured enrolment group info is a member of, or "".
func (d *Daemon) enrollGroupOf(info UserInfo) string {
	for _, g := range d.cfg.Broker.EnrollGroups {
		if slices.Contains(info.Groups, g) {
			return g
		}
	}
	return ""
}

// requireEnrolled refuses callers who may not use tollgate, and records a member of an
// enrol group on first use (so keys, overrides and audit have a users row to hang on).
// A read-only request is served even when that record cannot be written (a full disk, a
// read-only database): listing and quota need no users row.
func (d *Daemon) requireEnrolled(ctx context.Context, c *caller, readOnly bool) error {
	switch {
	case c.Name == "":
		return &tollgate.Error{Code: tollgate.CodeNotEnrolled, Message: fmt.Sprintf("uid %d has no user name in the name service", c.UID)}
	case c.Disabled:
		return &tollgate.Error{Code: tollgate.CodeDisabled, Message: fmt.Sprintf("tollgate user %s is disabled", c.Name),
			Hint: "ask a tollgate admin to re-enable you"}
	case !c.Enrolled && c.row != nil && c.row.Source == db.SourceGroup:
		return &tollgate.Error{Code: tollgate.CodeNotEnrolled,
			Message: fmt.Sprintf("%s was enrolled as a member of %s and is no longer a member of any enrolment group", c.Name, strings.Join(d.cfg.Broker.EnrollGroups, ", ")),
			Hint:    "ask a tollgate admin to enrol you (tollgate admin users add " + c.Name + ")"}
	case !c.Enrolled:
		return &tollgate.Error{Code: tollgate.CodeNotEnrolled, Message: fmt.Sprintf("%s is not enrolled in tollgate", c.Name),
			Hint: "ask a tollgate admin to enrol you (tollgate admin users add " + c.Name + ")"}
	}
	if c.row == nil {
		if err := d.db.EnsureGroupUser(ctx, c.Name, c.UID, d.now()); err != nil {
			if readOnly {
				d.log.Warn("cannot record a group member's first use; serving the read-only request", logUser, c.Name, logErr, err)
				return nil
			}
			return err
		}
		d.userRows.forget(c.Name)
		row, ok, err := d.userRows.get(ctx, d.db, c.Name)
		if err != nil {
			return err
		}
		if ok {
			c.row = &row
		}
	}
	return nil
}

// policyFor is the caller's effective policy.
func (d *Daemon) policyFor(c *caller) (quota.Policy, error) {
	var ov *quota.Override
	if c.row != nil {
		o, err := parseOverride(c.row.Overrides)
		if err != nil {
			return quota.Policy{}, fmt.Errorf("policy override of %s: %w", c.Name, err)
		}
		ov = &o
	}
	// One merge logic for the daemon, check-config and accounting: default ← the user's
	// groups in configuration order ← the user's own override.
	return d.cfg.EffectivePolicy(c.Groups, ov), nil
}

// policyOf is an enrolled user's effective policy by name, for accounting (budgets,
// expire_action) where there is no connection to take a uid from.
func (d *Daemon) policyOf(ctx context.Context, user string) (quota.Policy, error) {
	info, err := d.users.LookupName(user)
	if err != nil && !errors.Is(err, ErrNoSuchUser) {
		return quota.Policy{}, err
	}
	c := &caller{UserInfo: info}
	c.Name = user
	row, ok, err := d.userRows.get(ctx, d.db, user)
	if err != nil {
		return quota.Policy{}, err
	}
	if ok {
		c.row = &row
	}
	return d.policyFor(c)
}

func parseOverride(s string) (quota.Override, error) {
	var o quota.Override
	if s == "" {
		return o, nil
	}
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		return o, err
	}
	return o, nil
}
