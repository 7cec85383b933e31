package balancer

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Config is the [balancer] section: its pools ([[balancer.pool]]).
type Config struct {
	Pools []Pool `toml:"pool"`
}

// Pool is one load-driven worker pool. Keys left unset take gbrowse_conf's values, then
// the defaults (Resolve).
type Pool struct {
	// Name names the pool: lower-case letters, digits and '-'.
	Name string `toml:"name"`
	// GBrowseConf is a GBrowse aws_balancer.conf read as-is; keys set here override it.
	GBrowseConf string `toml:"gbrowse_conf"`
	// LoadSource is apache:URL (mod_status ?auto), nginx:URL (stub_status), file:/path
	// (one number) or command:/path [args] (prints one number). Default: apache: and
	// gbrowse_conf's server_status_url with ?auto.
	LoadSource string `toml:"load_source"`
	// LoadMetric is "requests" (the rate from the request counter) or "busy_workers".
	LoadMetric string `toml:"load_metric"`
	// LoadTable rows are [load, min, max]; default gbrowse_conf's, else GBrowse's.
	LoadTable [][]float64 `toml:"load_table"`
	// PollInterval is how often the load is read and the pool decided (default 30s).
	PollInterval time.Duration `toml:"poll_interval"`
	// Smoothing is the time constant of the load's exponential smoothing (default 2m;
	// "0s" for none).
	Smoothing time.Duration `toml:"smoothing"`
	// Stabilization is how long the load must want fewer slaves before any is
	// terminated (default 10m).
	Stabilization time.Duration `toml:"stabilization"`
	// Warmup is how long a new slave may take to answer before it is replaced (default 5m).
	Warmup time.Duration `toml:"warmup"`
	// CapacityBackoff is how long a type/zone refused for capacity is skipped (default 3m).
	CapacityBackoff time.Duration `toml:"capacity_backoff"`
	// FailureNotify is how many failed polls in a row notify the admins (default 3).
	FailureNotify int `toml:"failure_notify"`
	// Region is where the slaves run (default gbrowse_conf's region).
	Region string `toml:"region"`
	// InstanceTypes are tried in order (default gbrowse_conf's instance_type).
	InstanceTypes []string `toml:"instance_types"`
	// AvailabilityZones to launch in ("" = any).
	AvailabilityZones []string `toml:"availability_zones"`
	// Image is the slaves' AMI id or name (default gbrowse_conf's image_id).
	Image string `toml:"image"`
	// Subnet is the VPC subnet (default gbrowse_conf's subnet; "" = the default VPC).
	Subnet string `toml:"subnet"`
	// Ports are the slave's ports; the first is probed (default gbrowse_conf's, 8101).
	Ports []int `toml:"ports"`
	// SSHKey is a public key file imported as the slaves' keypair; port 22 is then open
	// to the master too.
	SSHKey string `toml:"ssh_key"`
	// SpotBid is the highest spot price in USD/h (default gbrowse_conf's; 0 = on-demand
	// only).
	SpotBid *float64 `toml:"spot_bid"`
	// Fallback above the bid: "wait" (default, as GBrowse) or "on-demand".
	Fallback string `toml:"fallback"`
	// DataSnapshots are EBS snapshots attached at launch, each at its own size.
	DataSnapshots []string `toml:"data_snapshots"`
	// UserDataTemplate is a file: a Go text/template given .Ports (space-separated) as
	// the slaves' user-data. Default GBrowse's: exec gbrowse-slave start PORTS.
	UserDataTemplate string `toml:"user_data_template"`
	// Master is the master's address (IP or CIDR) or security group (sg-…): the only
	// source allowed on the slave ports (default gbrowse_conf's external_ip).
	Master string `toml:"master_address"`
	// Ready is the readiness check: "http:403" (default: HEAD / answers 403, as a
	// GBrowse slave), "http:200" or any status, or "tcp".
	Ready string `toml:"ready"`
	// RenderfarmFile is the master's renderfarm.conf, written when the ready set changes.
	RenderfarmFile string `toml:"renderfarm_file"`
	// ReloadCommand runs after the renderfarm file changed (no shell).
	ReloadCommand []string `toml:"reload_command"`
	// MaxInstances caps the live slaves (0 = the table's band only).
	MaxInstances int `toml:"max_instances"`
	// BudgetUSD is the pool's monthly budget: no launch that could cross it; spent, the
	// pool is drained (0 = none).
	BudgetUSD float64 `toml:"budget_usd"`
	// OnStop is what a daemon stop does: "keep" (default) or "terminate".
	OnStop string `toml:"on_stop"`

	// table and gbrowse are filled by Resolve.
	table Table
}

// Defaults.
const (
	DefaultPollInterval    = 30 * time.Second
	DefaultSmoothing       = 2 * time.Minute
	DefaultStabilization   = 10 * time.Minute
	DefaultWarmup          = 5 * time.Minute
	DefaultCapacityBackoff = 3 * time.Minute
	DefaultFailureNotify   = 3
	defaultUserData        = "#!/bin/sh\nexec /opt/gbrowse/etc/init.d/gbrowse-slave start {{.Ports}}\n"
)

// Resolve applies gbrowse_conf (under the keys set in TOML) and the defaults.
func (p Pool) Resolve() (Pool, error) {
	var g *GBrowse
	if p.GBrowseConf != "" {
		gb, err := LoadGBrowse(p.GBrowseConf)
		if err != nil {
			return p, fmt.Errorf("gbrowse_conf: %w", err)
		}
		g = &gb
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	if g != nil {
		statusURL := g.ServerStatusURL
		if !strings.Contains(statusURL, "?") {
			statusURL += "?auto"
		}
		def(&p.LoadSource, "apache:"+statusURL)
		def(&p.Region, g.Region)
		def(&p.Image, g.ImageID)
		def(&p.Subnet, g.Subnet)
		def(&p.SSHKey, g.SSHKey)
		def(&p.Master, g.ExternalIP)
		if len(p.InstanceTypes) == 0 {
			p.InstanceTypes = []string{g.InstanceType}
		}
		if len(p.AvailabilityZones) == 0 && g.AvailabilityZone != "" {
			p.AvailabilityZones = []string{g.AvailabilityZone}
		}
		if len(p.Ports) == 0 {
			p.Ports = g.Ports
		}
		if p.SpotBid == nil {
			bid := g.SpotBid
			p.SpotBid = &bid
		}
		if len(p.DataSnapshots) == 0 {
			p.DataSnapshots = g.DataSnapshots
		}
		if p.PollInterval == 0 {
			p.PollInterval = g.PollInterval
		}
		if len(p.LoadTable) == 0 {
			p.table = g.Table
		}
	}
	def(&p.LoadMetric, MetricRequests)
	def(&p.Fallback, FallbackWait)
	def(&p.Ready, "http:403")
	def(&p.OnStop, "keep")
	if len(p.Ports) == 0 {
		p.Ports = []int{gbrowsePort}
	}
	if p.SpotBid == nil {
		zero := 0.0
		p.SpotBid = &zero
	}
	if p.PollInterval == 0 {
		p.PollInterval = DefaultPollInterval
	}
	if p.Smoothing == 0 {
		p.Smoothing = DefaultSmoothing
	}
	if p.Stabilization == 0 {
		p.Stabilization = DefaultStabilization
	}
	if p.Warmup == 0 {
		p.Warmup = DefaultWarmup
	}
	if p.CapacityBackoff == 0 {
		p.CapacityBackoff = DefaultCapacityBackoff
	}
	if p.FailureNotify == 0 {
		p.FailureNotify = DefaultFailureNotify
	}
	if len(p.LoadTable) > 0 {
		var rows []Row
		for i, r := range p.LoadTable {
			if len(r) != 3 || r[1] != float64(int(r[1])) || r[2] != float64(int(r[2])) {
				return p, fmt.Errorf("load_table row %d %v: want [load, min, max] with whole min and max", i+1, r)
			}
			rows = append(rows, Row{Load: r[0], Min: int(r[1]), Max: int(r[2])})
		}
		t, err := NewTable(rows)
		if err != nil {
			return p, fmt.Errorf("load_table: %w", err)
		}
		p.table = t
	}
	if p.table == nil {
		p.table = DefaultTable()
	}
	return p, nil
}

// Bid is the spot bid (0 = on-demand only).
func (p Pool) Bid() float64 {
	if p.SpotBid == nil {
		return 0
	}
	return *p.SpotBid
}

// Table is the pool's load table (after Resolve).
func (p Pool) Table() Table { return p.table }

var poolNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Validate checks resolved pools; each error names the pool and the key, what was
// wrong and what is allowed.
func (c Config) Validate() []error {
	var errs []error
	seen := map[string]bool{}
	for i, p := range c.Pools {
		name := p.Name
		if name == "" {
			name = "#" + strconv.Itoa(i+1)
		}
		bad := func(key, format string, args ...any) {
			errs = append(errs, fmt.Errorf("pool %s: %s: %s", name, key, fmt.Sprintf(format, args...)))
		}
		switch {
		case !poolNameRE.MatchString(p.Name):
			bad("name", "%q: want 1 to 40 lower-case letters, digits and '-'", p.Name)
		case seen[p.Name]:
			bad("name", "%q is used by another pool", p.Name)
		}
		seen[p.Name] = true
		if _, err := NewSource(p.LoadSource, p.LoadMetric, SourceOptions{}); err != nil {
			bad("load_source", "%v", err)
		}
		if p.LoadMetric != MetricRequests && p.LoadMetric != MetricBusyWorkers {
			bad("load_metric", "%q: want %q or %q", p.LoadMetric, MetricRequests, MetricBusyWorkers)
		}
		if len(p.table) == 0 {
			bad("load_table", "empty: want rows [load, min, max]")
		}
		if p.Region == "" {
			bad("region", "unset: name the region the slaves run in")
		}
		if p.Image == "" {
			bad("image", "unset: an AMI id (ami-…) or name")
		}
		if len(p.InstanceTypes) == 0 {
			bad("instance_types", "unset: at least one instance type")
		}
		for _, port := range p.Ports {
			if port < 1 || port > 65535 {
				bad("ports", "%d: want TCP ports from 1 to 65535", port)
			}
		}
		if p.Bid() < 0 {
			bad("spot_bid", "%g: want a price in USD/h, or 0 for on-demand only", p.Bid())
		}
		if p.Fallback != FallbackWait && p.Fallback != FallbackOnDemand {
			bad("fallback", "%q: want %q or %q", p.Fallback, FallbackWait, FallbackOnDemand)
		}
		if err := checkMaster(p.Master); err != nil {
			bad("master_address", "%v", err)
		}
		if kind, code, _ := strings.Cut(p.Ready, ":"); !(p.Ready == "tcp" || kind == "http" && validStatus(code)) {
			bad("ready", "%q: want \"http:STATUS\" (e.g. http:403) or \"tcp\"", p.Ready)
		}
		if p.OnStop != "keep" && p.OnStop != "terminate" {
			bad("on_stop", "%q: want \"keep\" or \"terminate\"", p.OnStop)
		}
		if p.PollInterval < 5*time.Second {
			bad("poll_interval", "%s: want at least 5s", p.PollInterval)
		}
		if p.Stabilization < 0 || p.Smoothing < 0 || p.Warmup < 0 || p.CapacityBackoff < 0 {
			bad("stabilization", "durations must not be negative")
		}
		if p.MaxInstances < 0 || p.BudgetUSD < 0 || p.FailureNotify < 0 {
			bad("max_instances", "max_instances, budget_usd and failure_notify must not be negative")
		}
		for _, s := range p.DataSnapshots {
			if !strings.HasPrefix(s, "snap-") {
				bad("data_snapshots", "%q: want snapshot ids (snap-…)", s)
			}
		}
		if len(p.ReloadCommand) > 0 && !strings.HasPrefix(p.ReloadCommand[0], "/") {
			bad("reload_command", "%q: the program must be an absolute path (it runs without a shell)", p.ReloadCommand[0])
		}
		if p.RenderfarmFile != "" && !strings.HasPrefix(p.RenderfarmFile, "/") {
			bad("renderfarm_file", "%q: want an absolute path", p.RenderfarmFile)
		}
		if p.SSHKey != "" {
			if _, err := readKeyPair(p.SSHKey, "x"); err != nil {
				bad("ssh_key", "%v", err)
			}
		}
		if _, err := p.UserData(); err != nil {
			bad("user_data_template", "%v", err)
		}
	}
	return errs
}

func validStatus(code string) bool {
	n, err := strconv.Atoi(code)
	return err == nil && n >= 100 && n <= 599
}

// checkMaster accepts an IP, a CIDR or a security group id.
func checkMaster(m string) error {
	switch {
	case m == "":
		return fmt.Errorf("unset: the master's IP, CIDR or security group (sg-…) is the only source allowed on the slave ports")
	case strings.HasPrefix(m, "sg-"):
		return nil
	case strings.Contains(m, "/"):
		if _, err := netip.ParsePrefix(m); err != nil {
			return fmt.Errorf("%q is not a CIDR", m)
		}
	default:
		if _, err := netip.ParseAddr(m); err != nil {
			return fmt.Errorf("%q is not an IP address, a CIDR or sg-…", m)
		}
	}
	if m == "0.0.0.0/0" || m == "::/0" {
		return fmt.Errorf("%q admits the whole internet: name the master", m)
	}
	return nil
}

// Policy is the pool's decision policy at now (admins' state is applied by the caller).
func (p Pool) Policy(now time.Time) Policy {
	return Policy{Table: p.table, Smoothing: p.Smoothing, Stabilization: p.Stabilization, Warmup: p.Warmup,
		MaxInstances: p.MaxInstances}
}

// UserData renders the user-data template with the ports.
func (p Pool) UserData() ([]byte, error) {
	text := defaultUserData
	if p.UserDataTemplate != "" {
		b, err := os.ReadFile(p.UserDataTemplate)
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	t, err := template.New("user-data").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	ports := make([]string, len(p.Ports))
	for i, port := range p.Ports {
		ports[i] = strconv.Itoa(port)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ Ports string }{strings.Join(ports, " ")}); err != nil {
		return nil, err
	}
	if b.Len() > 16<<10 {
		return nil, fmt.Errorf("user-data is %d bytes: EC2 allows 16 KiB", b.Len())
	}
	return b.Bytes(), nil
}
