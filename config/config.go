// Package config reads tollgate's TOML configuration (/etc/tollgate/tollgate.toml by
// default). Unknown keys are errors, and every error names the file, the line and the key.
package config

import (
	"time"

	"github.com/tollgate/tollgate/balancer"
	"github.com/tollgate/tollgate/quota"
	"github.com/tollgate/tollgate/regions"
)

// DefaultPath is where the daemon and the admin tools look for the configuration.
const DefaultPath = "/etc/tollgate/tollgate.toml"

// Config is the whole configuration file. Parse decodes the file straight onto it: each
// field's toml tag is its key, and a `format` tag names how a field whose Go type cannot
// say it is written (see decode.go). A key is added by adding its field (with its
// default in Default, if it has one, and a line in Example).
type Config struct {
	Broker     Broker     `toml:"broker"`
	AWS        AWS        `toml:"aws"`
	Policy     Policies   `toml:"policy"`
	Accounting Accounting `toml:"accounting"`
	IAM        IAM        `toml:"iam"`
	// Balancer declares the load-driven worker pools ([[balancer.pool]]; docs/balancer.md).
	Balancer balancer.Config `toml:"balancer"`
	// Regions declares the per-region services ([[regions.service]]; docs/regions.md).
	Regions regions.Config `toml:"regions"`

	// Path is the file this configuration was read from ("" when built in code).
	Path string `toml:"-"`

	// lines maps each key path written in the file to its line, so that validation
	// errors point at the line to edit.
	lines map[string]int
}

// Broker configures the daemon and its socket.
type Broker struct {
	Socket string `toml:"socket"` // default /run/tollgate/tollgate.sock
	// Database is the SQLite file (default /var/lib/tollgate/tollgate.db; local disk
	// only) or a postgres:// URL of the database several hosts share (no password in it).
	Database string `toml:"database"`
	// DatabasePasswordFile holds the PostgreSQL role's password (mode 0600 or 0400);
	// without it the password comes from TOLLGATE_DATABASE_PASSWORD, if set.
	DatabasePasswordFile string   `toml:"database_password_file"`
	AdminGroup           string   `toml:"admin_group"`   // default tollgate-admin
	EnrollGroups         []string `toml:"enroll_groups"` // members are enrolled implicitly
	// SocketMode is the socket file's mode (default 0666: anyone may connect; the daemon
	// decides who may do what from the peer uid).
	SocketMode        uint32        `toml:"socket_mode" format:"mode"`
	ReconcileInterval time.Duration `toml:"reconcile_interval"` // default 5m
	LogLevel          string        `toml:"log_level"`          // debug | info | warn | error
	// AuditRefusalRetention is how long refused requests stay in the audit log: the
	// daemon deletes older ones hourly (0, the default: kept forever). Allowed, failed
	// and done entries are always kept.
	AuditRefusalRetention time.Duration `toml:"audit_refusal_retention"`
}

// AWS configures the cloud client. Credentials are NOT configured here: they come from
// the SDK's standard chain (environment, shared config/profile, instance role) or the
// EC2_ACCESS_KEY / EC2_SECRET_KEY environment variables.
type AWS struct {
	Regions     []string `toml:"regions"`      // regions the collector and reconcile scan
	EndpointURL string   `toml:"endpoint_url"` // "" = AWS; a URL points every service at a simulator
	Profile     string   `toml:"profile"`      // shared-config profile name (not a secret)
	// RunInstancesPerSecond bounds the daemon's own RunInstances rate so a burst of users
	// queues fairly instead of being throttled by EC2 (default 2, burst 5).
	RunInstancesPerSecond float64 `toml:"run_instances_per_second"`
	RunInstancesBurst     int     `toml:"run_instances_burst"`
}

// Policies holds the default policy and the per-group overrides.
type Policies struct {
	Default quota.Policy              `toml:"default"`
	Group   map[string]quota.Override `toml:"group"`
	// GroupOrder is the order the [policy.group.*] tables appear in the file; a user in
	// several groups gets them applied in this order (later wins).
	GroupOrder []string `toml:"-"`
}

// Accounting configures the collector, budgets, leases and notices.
type Accounting struct {
	CollectInterval time.Duration `toml:"collect_interval"`         // the daemon's own collector; default 5m, 0 disables
	TermStart       string        `toml:"term_start" format:"date"` // YYYY-MM-DD, for budget_period = "term"
	TermEnd         string        `toml:"term_end" format:"date"`   // YYYY-MM-DD
	// Prices overrides the shipped on-demand table: "t3.micro/us-west-2" = 0.0104 (USD/h).
	Prices map[string]float64 `toml:"prices"`
	// VolumePrices overrides EBS prices: "gp3" = 0.08 (USD per GB-month).
	VolumePrices map[string]float64 `toml:"volume_prices"`
	MailCommand  []string           `toml:"mail_command"` // e.g. ["/usr/sbin/sendmail", "-t"]; notice text on stdin
	MailDomain   string             `toml:"mail_domain"`  // user@mail_domain; "" = local user
}

// IAM configures per-user IAM identities.
type IAM struct {
	UserNamePattern string `toml:"user_name_pattern"` // default "tollgate-{user}"
	Path            string `toml:"path"`              // default "/tollgate/"
	PolicyFile      string `toml:"policy_file"`       // inline policy JSON; default scripts/student-policy.json as installed
	PolicyName      string `toml:"policy_name"`       // default "tollgate-student"
	// PropagationTimeout bounds the wait until STS accepts a new key (default 60s).
	PropagationTimeout time.Duration `toml:"propagation_timeout"`
	// PermissionsBoundary is the ARN of the managed policy set as every identity's
	// permissions boundary ("" = none). It caps what the inline policy can grant, so the
	// daemon's IAM policy can require it and its credentials cannot mint an admin.
	PermissionsBoundary string `toml:"permissions_boundary"`
}
