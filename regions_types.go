package tollgate

import "time"

// RegionCheck is one region of a regional service as `tollgate admin regions check`
// shows it.
type RegionCheck struct {
	Region        string      `json:"region"`
	SetUp         bool        `json:"set_up"`
	Step          string      `json:"step,omitempty"` // the last setup step done
	ImageID       string      `json:"image_id,omitempty"`
	ImageState    string      `json:"image_state,omitempty"`
	ImageStale    bool        `json:"image_stale"` // a copy of an older home image
	Snapshots     []string    `json:"snapshots"`
	KeyPair       bool        `json:"keypair"`
	GroupID       string      `json:"group_id,omitempty"`
	InstanceID    string      `json:"instance_id,omitempty"`
	InstanceState string      `json:"instance_state,omitempty"`
	LastRun       *ServiceRun `json:"last_run,omitempty"`
	// Drift lists what differs from what setup made and the configuration wants.
	Drift []string `json:"drift"`
}

// ServiceRun is one run of a regional service's job.
type ServiceRun struct {
	ID              int64     `json:"id"`
	Service         string    `json:"service"`
	Region          string    `json:"region"`
	InstanceID      string    `json:"instance_id,omitempty"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	Status          string    `json:"status"` // running, succeeded, failed, timed_out, interrupted, refused
	ExitCode        int       `json:"exit_code"`
	Reason          string    `json:"reason,omitempty"`
	Stdout          string    `json:"stdout,omitempty"` // the tail SSM kept (at most 24,000 characters)
	Stderr          string    `json:"stderr,omitempty"`
	InstanceSeconds float64   `json:"instance_seconds"`
	CostUSD         float64   `json:"cost_usd"`
}

// RegionSetup is what setup did in one region.
type RegionSetup struct {
	Region     string `json:"region"`
	ImageID    string `json:"image_id,omitempty"`
	GroupID    string `json:"group_id,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
	Error      string `json:"error,omitempty"`
}
