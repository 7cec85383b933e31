package tollgate

import "time"

// PoolStatus is one balancer pool as `tollgate admin balancer ls|status` shows it.
type PoolStatus struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// State is "active", "paused", "draining", "removed" (being wound down) or
	// "holding" (the load is unknown: the pool is kept as it is).
	State string `json:"state"`
	// Load is the latest measured load (requests/s or busy workers); Smoothed is what
	// the decision uses. LoadOK is false when the latest poll failed (LoadError says why).
	Load       float64   `json:"load"`
	Smoothed   float64   `json:"smoothed"`
	LoadOK     bool      `json:"load_ok"`
	LoadError  string    `json:"load_error,omitempty"`
	PollFails  int       `json:"poll_failures"` // consecutive failed polls
	LastPollAt time.Time `json:"last_poll_at"`
	// WantMin and WantMax are the band the table (or an override) asks for now.
	WantMin  int           `json:"want_min"`
	WantMax  int           `json:"want_max"`
	Override *PoolOverride `json:"override,omitempty"`
	// Counts of slaves by state (requested, booting, ready, draining, gone).
	Counts        map[string]int `json:"counts"`
	Slaves        []PoolSlave    `json:"slaves"`
	SecurityGroup string         `json:"security_group,omitempty"`
	// Market is where new slaves go now: "spot", "on-demand" (fallback) or "waiting"
	// (spot above the bid, no fallback).
	Market     string         `json:"market"`
	SpotPrice  float64        `json:"spot_price,omitempty"` // the best current price of the configured offers
	SpotBid    float64        `json:"spot_bid,omitempty"`
	CostUSD    float64        `json:"cost_usd"`   // the pool's spend this month
	BudgetUSD  float64        `json:"budget_usd"` // 0 = none
	MaxInst    int            `json:"max_instances"`
	Decisions  []PoolDecision `json:"decisions"`  // the latest first
	Renderfarm []string       `json:"renderfarm"` // the renderer URLs the master was last given
}

// PoolOverride is a manual min/max band that replaces the load table until Until.
type PoolOverride struct {
	Min   int       `json:"min"`
	Max   int       `json:"max"`
	Until time.Time `json:"until"`
}

// PoolSlave is one worker of a pool.
type PoolSlave struct {
	ID          string    `json:"id"` // instance id, or the launch request id while requested
	State       string    `json:"state"`
	Type        string    `json:"type,omitempty"`
	Zone        string    `json:"zone,omitempty"`
	PrivateIP   string    `json:"private_ip,omitempty"`
	PublicIP    string    `json:"public_ip,omitempty"`
	Market      string    `json:"market"` // spot | on-demand
	PriceHourly float64   `json:"price_hourly"`
	CostUSD     float64   `json:"cost_usd"` // so far
	LaunchedAt  time.Time `json:"launched_at"`
	Healthy     bool      `json:"healthy"`
}

// PoolDecision is one poll's decision and why.
type PoolDecision struct {
	At         time.Time `json:"at"`
	Load       float64   `json:"load"`
	Smoothed   float64   `json:"smoothed"`
	Min        int       `json:"min"`
	Max        int       `json:"max"`
	Launched   []string  `json:"launched,omitempty"`
	Terminated []string  `json:"terminated,omitempty"`
	Why        []string  `json:"why"`
}
