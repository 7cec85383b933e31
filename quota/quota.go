// Package quota makes admission decisions: given a user's effective policy, what they
// already run and spend, and what they ask for, it admits the request or refuses it with a
// reason that names the limit, the current figure and what was asked.
//
// It is pure: no I/O, no clock of its own. Callers pass in the figures they read inside the
// admission transaction, so the decision and the launch record commit together.
package quota

import (
	"time"

	"github.com/tollgate/tollgate"
)

// Spot policy values.
const (
	SpotAllowed   = "allowed"
	SpotRequired  = "required"
	SpotForbidden = "forbidden"
)

// Expire and budget actions.
const (
	ActionStop      = "stop"
	ActionTerminate = "terminate"
	ActionNotify    = "notify" // budget_action only
)

// Budget periods.
const (
	PeriodTerm  = "term"
	PeriodMonth = "month"
	PeriodWeek  = "week"
)

// MaxUserData is the largest user-data a user may pass (EC2's own limit).
const MaxUserData = 16 << 10

// Policy is a user's effective policy: the default, overlaid by each of their Unix groups'
// overrides (in config order), overlaid by their per-user override. Its toml tags are the
// keys of [policy.default]; a `format:"minutes"` duration is written "4h", "90m" or "2d"
// (see config). Every field has a counterpart in Override.
type Policy struct {
	MaxInstances  int      `json:"max_instances" toml:"max_instances"`   // non-terminated instances
	MaxVCPUs      int      `json:"max_vcpus" toml:"max_vcpus"`           // running + pending
	MaxCount      int      `json:"max_count" toml:"max_count"`           // instances per launch request; 0 = max_instances
	InstanceTypes []string `json:"instance_types" toml:"instance_types"` // allowed types; may hold patterns like "t3.*"
	Images        []string `json:"images" toml:"images"`                 // ami ids or image-name patterns ("ubuntu/*jammy*")
	// ImageOwners are the accounts whose images a user may launch ("self", "amazon",
	// "aws-marketplace" or 12-digit account ids); empty means DefaultImageOwners. Name
	// patterns would otherwise match look-alike public images anyone can publish.
	ImageOwners     []string      `json:"image_owners" toml:"image_owners"`
	Regions         []string      `json:"regions" toml:"regions"` // allowed regions
	DefaultLifetime time.Duration `json:"default_lifetime" toml:"default_lifetime" format:"minutes"`
	MaxLifetime     time.Duration `json:"max_lifetime" toml:"max_lifetime" format:"minutes"`
	ExpireAction    string        `json:"expire_action" toml:"expire_action"` // stop | terminate
	ExpireWarning   time.Duration `json:"expire_warning" toml:"expire_warning" format:"minutes"`
	BudgetUSD       float64       `json:"budget_usd" toml:"budget_usd"`       // 0 = no budget
	BudgetPeriod    string        `json:"budget_period" toml:"budget_period"` // term | month | week
	BudgetAction    string        `json:"budget_action" toml:"budget_action"` // stop | terminate | notify
	Spot            string        `json:"spot" toml:"spot"`                   // allowed | required | forbidden
	SecurityGroups  []string      `json:"security_groups" toml:"security_groups"`
	Subnet          string        `json:"subnet" toml:"subnet"`
	InstanceProfile string        `json:"instance_profile" toml:"instance_profile"` // ARN or name; never from the user
	VolumeSizeGB    int           `json:"volume_size_gb" toml:"volume_size_gb"`     // 0 = the image's default
	VolumeType      string        `json:"volume_type" toml:"volume_type"`           // gp3 by default
}

// Override is a partial policy: nil fields leave the base unchanged. It is what a
// [policy.group.NAME] table or an admin's `users set` holds.
type Override struct {
	MaxInstances    *int           `json:"max_instances,omitempty" toml:"max_instances"`
	MaxVCPUs        *int           `json:"max_vcpus,omitempty" toml:"max_vcpus"`
	MaxCount        *int           `json:"max_count,omitempty" toml:"max_count"`
	InstanceTypes   []string       `json:"instance_types,omitempty" toml:"instance_types"`
	Images          []string       `json:"images,omitempty" toml:"images"`
	ImageOwners     []string       `json:"image_owners,omitempty" toml:"image_owners"`
	Regions         []string       `json:"regions,omitempty" toml:"regions"`
	DefaultLifetime *time.Duration `json:"default_lifetime,omitempty" toml:"default_lifetime" format:"minutes"`
	MaxLifetime     *time.Duration `json:"max_lifetime,omitempty" toml:"max_lifetime" format:"minutes"`
	ExpireAction    *string        `json:"expire_action,omitempty" toml:"expire_action"`
	ExpireWarning   *time.Duration `json:"expire_warning,omitempty" toml:"expire_warning" format:"minutes"`
	BudgetUSD       *float64       `json:"budget_usd,omitempty" toml:"budget_usd"`
	BudgetPeriod    *string        `json:"budget_period,omitempty" toml:"budget_period"`
	BudgetAction    *string        `json:"budget_action,omitempty" toml:"budget_action"`
	Spot            *string        `json:"spot,omitempty" toml:"spot"`
	SecurityGroups  []string       `json:"security_groups,omitempty" toml:"security_groups"`
	Subnet          *string        `json:"subnet,omitempty" toml:"subnet"`
	InstanceProfile *string        `json:"instance_profile,omitempty" toml:"instance_profile"`
	VolumeSizeGB    *int           `json:"volume_size_gb,omitempty" toml:"volume_size_gb"`
	VolumeType      *string        `json:"volume_type,omitempty" toml:"volume_type"`
}

// Request is what a user may choose for a launch, after the broker has filled defaults
// it knows (none: Admit fills Lifetime, Region and Count defaults from the policy).
type Request struct {
	Type      string        `json:"type"`
	Image     string        `json:"image"`      // ami id as asked
	ImageName string        `json:"image_name"` // the resolved image's name, for name patterns; may be ""
	Region    string        `json:"region"`
	Count     int           `json:"count"`
	Lifetime  time.Duration `json:"lifetime"`
	Spot      bool          `json:"spot"`
	UserData  int           `json:"user_data_bytes"` // size only
	Name      string        `json:"name"`
}

// Usage is what the user holds and has spent, read inside the admission transaction.
type Usage struct {
	Instances    int     `json:"instances"`     // non-terminated instances (incl. requested launches)
	VCPUs        int     `json:"vcpus"`         // vCPUs of pending + running (+ requested)
	SpentUSD     float64 `json:"spent_usd"`     // spend so far this budget period
	CommittedUSD float64 `json:"committed_usd"` // remaining cost of running leases to their expiry
}

// Price is what the request would cost: per-instance hourly price and vCPUs of its type.
type Price struct {
	HourlyUSD float64 `json:"hourly_usd"`
	VCPUs     int     `json:"vcpus"`
}

// Decision is an admitted request with its defaults filled in.
type Decision struct {
	Request      Request `json:"request"`
	ProjectedUSD float64 `json:"projected_usd"` // count × hourly × lifetime
}

// Refusal is why a request was refused. Limit names the policy key ("max_instances",
// "budget_usd", "instance_types", ...). Error() is one line a user can act on.
type Refusal struct {
	Limit   string `json:"limit"`
	Message string `json:"message"`
	// Budget refusals set Code to tollgate.CodeBudgetExhausted; every other refusal is
	// CodeQuotaExceeded (a number) or CodeInvalidRequest (a choice outside the policy).
	Code string `json:"code"`
}

// Error returns the message, so a Refusal can travel as an error.
func (r *Refusal) Error() string { return r.Message }

// Unwrap is the refusal as tollgate's domain error (its code and message), so the
// socket layer needs no special case for admission: errors.As finds the *tollgate.Error.
func (r *Refusal) Unwrap() error { return &tollgate.Error{Code: r.Code, Message: r.Message} }
