package awssim

import (
	"time"
)

// EBSPricePerGBMonth is the simulator's EBS price (USD per GiB-month, all regions). A
// month is HoursPerMonth hours, as in AWS's pro-rating.
var EBSPricePerGBMonth = map[string]float64{
	"gp3": 0.08, "gp2": 0.10, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015, "standard": 0.05,
}

// HoursPerMonth is the month length used to pro-rate EBS charges.
const HoursPerMonth = 730

// MinimumBilledSeconds is charged for every running period shorter than it.
const MinimumBilledSeconds = 60

// Ledger is the simulator's ground truth of what the account has been charged, computed
// at At from every instance's exact state timeline. Instances that have vanished from
// Describe (terminated over an hour ago, or forgotten) are still listed.
type Ledger struct {
	At        time.Time     `json:"at"`
	Instances []LedgerEntry `json:"instances"`
	TotalUSD  float64       `json:"total_usd"`
}

// LedgerEntry is one instance's charges. Compute is billed per second while the instance
// is in the running state, with a MinimumBilledSeconds minimum per running period (an
// ongoing period is charged at least the minimum too); on-demand instances pay
// OnDemandPrice, spot instances the SpotPrice series of their zone. EBS is billed per
// second from launch until each volume is deleted.
type LedgerEntry struct {
	ID               string         `json:"id"`
	Region           string         `json:"region"`
	AvailabilityZone string         `json:"availability_zone"`
	Type             string         `json:"type"`
	Spot             bool           `json:"spot"`
	State            string         `json:"state"`
	BilledSeconds    int64          `json:"billed_seconds"`
	ComputeUSD       float64        `json:"compute_usd"`
	EBSUSD           float64        `json:"ebs_usd"`
	CostUSD          float64        `json:"cost_usd"` // compute + EBS
	Periods          []BilledPeriod `json:"periods"`
}

// BilledPeriod is one running period and its charge.
type BilledPeriod struct {
	Start         time.Time  `json:"start"`
	End           *time.Time `json:"end,omitempty"` // nil while still running
	BilledSeconds int64      `json:"billed_seconds"`
	CostUSD       float64    `json:"cost_usd"`
}

// Ledger computes the billing ground truth at the current clock reading.
func (s *Sim) Ledger() Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.Now().Truncate(time.Second)
	l := Ledger{At: at, Instances: []LedgerEntry{}}
	for _, rn := range s.regionNames {
		for _, in := range s.regions[rn].order {
			e := ledgerEntry(in, at)
			l.TotalUSD += e.CostUSD
			l.Instances = append(l.Instances, e)
		}
	}
	return l
}

func ledgerEntry(in *instance, at time.Time) LedgerEntry {
	e := LedgerEntry{ID: in.id, Region: in.region, AvailabilityZone: in.az, Type: in.typ, Spot: in.spot,
		State: in.stateAt(at), Periods: []BilledPeriod{}}
	od, _ := OnDemandPrice(in.region, in.typ)
	for _, p := range in.periods(at) {
		if p.state != StateRunning {
			continue
		}
		end := at
		bp := BilledPeriod{Start: p.start}
		if !p.end.IsZero() {
			end = p.end
			t := p.end
			bp.End = &t
		}
		secs := int64(end.Sub(p.start) / time.Second)
		if secs < MinimumBilledSeconds {
			secs = MinimumBilledSeconds
		}
		bp.BilledSeconds = secs
		if in.spot {
			bp.CostUSD = spotCost(in.region, in.az, in.typ, od, p.start, secs)
		} else {
			bp.CostUSD = float64(secs) * od / 3600
		}
		e.BilledSeconds += secs
		e.ComputeUSD += bp.CostUSD
		e.Periods = append(e.Periods, bp)
	}
	for _, v := range in.volumes {
		end := v.end(at)
		if end.IsZero() {
			end = at
		}
		secs := end.Sub(v.created).Seconds()
		if secs > 0 {
			e.EBSUSD += float64(v.sizeGiB) * EBSPricePerGBMonth[v.volType] * secs / (HoursPerMonth * 3600)
		}
	}
	e.CostUSD = e.ComputeUSD + e.EBSUSD
	return e
}

// spotCost integrates the spot price series over [start, start+secs).
func spotCost(region, az, typ string, od float64, start time.Time, secs int64) float64 {
	period := int64(SpotPricePeriod / time.Second)
	t, end := start.Unix(), start.Unix()+secs
	sum := 0.0
	for t < end {
		w := spotWindow(time.Unix(t, 0))
		segEnd := min(end, (w+1)*period)
		sum += spotPriceInWindow(az, typ, od, w) * float64(segEnd-t) / 3600
		t = segEnd
	}
	return sum
}

// Instance is a ground-truth snapshot of one simulated instance, for tests and the
// /_sim/instances endpoint.
type Instance struct {
	ID                    string            `json:"id"`
	Region                string            `json:"region"`
	AvailabilityZone      string            `json:"availability_zone"`
	Type                  string            `json:"type"`
	ImageID               string            `json:"image_id"`
	KeyName               string            `json:"key_name,omitempty"`
	State                 string            `json:"state"`
	Visible               bool              `json:"visible"` // still returned by Describe
	Forgotten             bool              `json:"forgotten,omitempty"`
	Spot                  bool              `json:"spot"`
	SpotInstanceRequestID string            `json:"spot_instance_request_id,omitempty"`
	ClientToken           string            `json:"client_token,omitempty"`
	ReservationID         string            `json:"reservation_id"`
	LaunchTime            time.Time         `json:"launch_time"`       // latest start
	FirstLaunchTime       time.Time         `json:"first_launch_time"` // RunInstances
	StateTransitionReason string            `json:"state_transition_reason,omitempty"`
	PrivateIP             string            `json:"private_ip"`
	PublicIP              string            `json:"public_ip,omitempty"`
	SubnetID              string            `json:"subnet_id"`
	SecurityGroupIDs      []string          `json:"security_group_ids"`
	IamInstanceProfileArn string            `json:"iam_instance_profile_arn,omitempty"`
	UserData              string            `json:"user_data,omitempty"` // base64, as sent
	Tags                  map[string]string `json:"tags"`
	VolumeIDs             []string          `json:"volume_ids"`
	Transitions           []Transition      `json:"transitions"`
	// MetadataHTTPTokens, MetadataHTTPEndpoint and MetadataHopLimit are the IMDS options
	// RunInstances set ("required" tokens = IMDSv2 only).
	MetadataHTTPTokens   string `json:"metadata_http_tokens"`
	MetadataHTTPEndpoint string `json:"metadata_http_endpoint"`
	MetadataHopLimit     int    `json:"metadata_hop_limit"`
}

// Transition is one entry of an instance's state timeline. Only transitions at or before
// the snapshot time appear; scheduled ones (pending→running in 15 s) are not shown.
type Transition struct {
	At    time.Time `json:"at"`
	State string    `json:"state"`
}

// Instances snapshots every instance ever launched in region ("" for all regions), in
// launch order, including ones no longer visible to Describe.
func (s *Sim) Instances(region string) []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	out := []Instance{}
	for _, rn := range s.regionNames {
		if region != "" && rn != region {
			continue
		}
		for _, in := range s.regions[rn].order {
			out = append(out, snapshot(in, now))
		}
	}
	return out
}

func snapshot(in *instance, now time.Time) Instance {
	st := in.stateAt(now)
	x := Instance{
		ID: in.id, Region: in.region, AvailabilityZone: in.az, Type: in.typ, ImageID: in.imageID,
		KeyName: in.keyName, State: st, Visible: in.visible(now), Forgotten: in.forgotten, Spot: in.spot,
		SpotInstanceRequestID: in.spotRequestID, ClientToken: in.clientToken, ReservationID: in.reservationID,
		LaunchTime: in.launchTime, FirstLaunchTime: in.firstLaunch, StateTransitionReason: in.reason,
		PrivateIP: in.privateIP, SubnetID: in.subnetID, IamInstanceProfileArn: in.profileArn,
		UserData: in.userData, Tags: copyTags(in.tags), SecurityGroupIDs: []string{}, VolumeIDs: []string{},
		MetadataHTTPTokens: in.metadata.httpTokens, MetadataHTTPEndpoint: in.metadata.httpEndpoint,
		MetadataHopLimit: in.metadata.hopLimit,
	}
	switch st {
	case StatePending, StateRunning, StateStopping:
		x.PublicIP = in.publicIP
	}
	for _, g := range in.groups {
		x.SecurityGroupIDs = append(x.SecurityGroupIDs, g.id)
	}
	for _, v := range in.volumes {
		x.VolumeIDs = append(x.VolumeIDs, v.id)
	}
	for _, p := range in.periods(now) {
		x.Transitions = append(x.Transitions, Transition{At: p.start, State: p.state})
	}
	return x
}

// Forget makes an instance vanish at once, as if it had terminated long ago and been
// purged: it disappears from every Describe and is billed as terminated at Now. It is
// how tests model an instance that disappears between two collector snapshots.
func (s *Sim) Forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.byID[id]
	if in == nil || in.forgotten {
		return
	}
	now := s.Now().Truncate(time.Second)
	if _, done := in.terminatedAt(now); !done {
		in.transition(now, StateTerminated, 0, "")
	}
	in.forgotten = true
}
