// Package tollgate holds the domain types that cross tollgate's socket: what accounting
// reports (usage, costs, notices, reports), what IAM identities look like, and audit
// entries. It imports nothing but the standard library, so the per-user CLI, which only
// speaks the socket API, links none of the daemon's cloud or SQLite code; the packages
// that produce these values (accounting, iamusers, db) alias them.
package tollgate

import "time"

// InstanceCost is one instance's cost so far.
type InstanceCost struct {
	ID             string    `json:"id"`
	Owner          string    `json:"owner"`
	Region         string    `json:"region"`
	Type           string    `json:"type"`
	State          string    `json:"state"`
	Spot           bool      `json:"spot"`
	LaunchedAt     time.Time `json:"launched_at"`
	ExpiresAt      time.Time `json:"expires_at,omitempty"`
	RunningSeconds int64     `json:"running_seconds"`
	CostUSD        float64   `json:"cost_usd"`  // compute + EBS, this period
	Estimated      bool      `json:"estimated"` // a vanished instance's end was estimated
	Unpriced       bool      `json:"unpriced"`  // its type has no known price: cost is NOT zero, it is unknown
}

// Usage is a user's spend picture (`tollgate usage`).
type Usage struct {
	User         string         `json:"user"`
	PeriodStart  time.Time      `json:"period_start"`
	PeriodEnd    time.Time      `json:"period_end"`
	BudgetUSD    float64        `json:"budget_usd"` // 0 = no budget
	SpentUSD     float64        `json:"spent_usd"`
	RemainingUSD float64        `json:"remaining_usd"`
	CommittedUSD float64        `json:"committed_usd"` // cost of running instances until their leases end
	HourlyUSD    float64        `json:"hourly_usd"`    // what runs now costs per hour
	Instances    []InstanceCost `json:"instances"`
	Unpriced     []string       `json:"unpriced,omitempty"` // instance types with no known price
	AsOf         time.Time      `json:"as_of"`              // last successful snapshot
}

// Notice is a message for a user: lease warnings, reaper and budget actions.
type Notice struct {
	ID      int64     `json:"id"`
	User    string    `json:"user"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"` // lease_warning, lease_expired, budget_80, budget_100, budget_action, adopted
	Message string    `json:"message"`
	Read    bool      `json:"read"`
}

// CollectResult reports one collector run.
type CollectResult struct {
	At          time.Time      `json:"at"`
	Regions     []RegionResult `json:"regions"`
	Instances   int            `json:"instances"`    // seen in all regions
	RowsWritten int            `json:"rows_written"` // storage grows with changes, not snapshots
	Untracked   int            `json:"untracked"`    // instances launched outside the gate
	Closed      int            `json:"closed"`       // vanished instances closed at an estimated time
}

// RegionResult is one region of a collector run; a failed region never closes instances.
type RegionResult struct {
	Region    string `json:"region"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
	Instances int    `json:"instances"`
}

// ReportRequest selects and groups a spend report.
type ReportRequest struct {
	Since time.Time `json:"since"` // zero = start of the current budget period
	Until time.Time `json:"until"` // zero = now
	By    string    `json:"by"`    // user | group | purpose | type | region | day
}

// Report is a spend report; Total equals the sum of Rows and of Instances in every format.
type Report struct {
	Since     time.Time      `json:"since"`
	Until     time.Time      `json:"until"`
	By        string         `json:"by"`
	Rows      []ReportRow    `json:"rows"`
	Days      []DaySpend     `json:"days"` // spend per day stacked by user (or group), for the chart
	Budgets   []BudgetLine   `json:"budgets,omitempty"`
	Untracked []InstanceCost `json:"untracked"`
	Instances []InstanceCost `json:"instances"`
	Unpriced  []string       `json:"unpriced,omitempty"`
	TotalUSD  float64        `json:"total_usd"`
	AsOf      time.Time      `json:"as_of"`
}

// ReportRow is one group of a report.
type ReportRow struct {
	Key            string  `json:"key"`
	Instances      int     `json:"instances"`
	RunningSeconds int64   `json:"running_seconds"`
	CostUSD        float64 `json:"cost_usd"`
}

// DayOther is the DaySpend key that lumps the users (or groups) beyond the chart's
// largest ones together.
const DayOther = "other"

// DaySpend is one day's spend, split by user or group.
type DaySpend struct {
	Day   string             `json:"day"` // YYYY-MM-DD (UTC)
	Spend map[string]float64 `json:"spend"`
}

// BudgetLine is one budget to draw on the chart.
type BudgetLine struct {
	Key       string  `json:"key"`
	BudgetUSD float64 `json:"budget_usd"`
}

// Credentials is a freshly created access key. SecretAccessKey is the one secret tollgate
// ever returns, once, to its owner; it is never stored, logged or audited.
type Credentials struct {
	User            string    `json:"user"`     // Unix user
	IAMUser         string    `json:"iam_user"` // e.g. tollgate-alice
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	Region          string    `json:"region"`
	CreatedAt       time.Time `json:"created_at"`
}

// Key is an access key's public facts.
type Key struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"` // Active | Inactive
	CreatedAt time.Time `json:"created_at"`
}

// Identity is one user's IAM identity as `tollgate admin iam ls` shows it.
type Identity struct {
	User        string    `json:"user"`
	IAMUser     string    `json:"iam_user"`
	ARN         string    `json:"arn"`
	CreatedAt   time.Time `json:"created_at"`
	LastRotated time.Time `json:"last_rotated,omitempty"`
	Keys        []Key     `json:"keys"`
	State       string    `json:"state"` // active | creating | revoking | untracked | missing
}

// AuditEntry is one line of the audit log. Detail must never hold a secret.
type AuditEntry struct {
	Seq      int64          `json:"seq"`
	At       time.Time      `json:"at"`
	Actor    string         `json:"actor"`
	UID      int            `json:"uid"`
	Action   string         `json:"action"`
	Target   string         `json:"target"`
	Decision string         `json:"decision"`
	Reason   string         `json:"reason"`
	Detail   map[string]any `json:"detail,omitempty"`
	// Count is how many times this refusal happened (identical refusals from one actor
	// within an hour are one entry); LastAt is when it last did (zero for one).
	Count  int       `json:"count"`
	LastAt time.Time `json:"last_at,omitzero"`
}
