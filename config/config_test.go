package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/quota"
)

var update = flag.Bool("update", false, "rewrite testdata/example.toml from Example()")

const file = "/etc/tollgate/tollgate.toml"

func parse(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := Parse(file, []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	t.Run("empty file", func(t *testing.T) {
		c := parse(t, "")
		want := Default()
		want.Path = file
		c.lines = nil
		if !reflect.DeepEqual(c, want) {
			t.Errorf("got %+v\nwant %+v", c, want)
		}
	})
	t.Run("documented values", func(t *testing.T) {
		c := Default()
		checks := []struct {
			name      string
			got, want any
		}{
			{"socket", c.Broker.Socket, "/run/tollgate/tollgate.sock"},
			{"database", c.Broker.Database, "/var/lib/tollgate/tollgate.db"},
			{"admin_group", c.Broker.AdminGroup, "tollgate-admin"},
			{"socket_mode", c.Broker.SocketMode, uint32(0o666)},
			{"reconcile_interval", c.Broker.ReconcileInterval, 5 * time.Minute},
			{"regions", c.AWS.Regions, []string{"us-west-2"}},
			{"run_instances_per_second", c.AWS.RunInstancesPerSecond, 2.0},
			{"run_instances_burst", c.AWS.RunInstancesBurst, 5},
			{"collect_interval", c.Accounting.CollectInterval, 5 * time.Minute},
			{"max_instances", c.Policy.Default.MaxInstances, 2},
			{"max_vcpus", c.Policy.Default.MaxVCPUs, 4},
			{"instance_types", c.Policy.Default.InstanceTypes, []string{"t3.micro", "t3.small"}},
			{"images", c.Policy.Default.Images, []string{"ami-0123456789abcdef0"}},
			{"policy regions", c.Policy.Default.Regions, []string{"us-west-2"}},
			{"default_lifetime", c.Policy.Default.DefaultLifetime, 4 * time.Hour},
			{"max_lifetime", c.Policy.Default.MaxLifetime, 12 * time.Hour},
			{"expire_action", c.Policy.Default.ExpireAction, "stop"},
			{"expire_warning", c.Policy.Default.ExpireWarning, 15 * time.Minute},
			{"budget_usd", c.Policy.Default.BudgetUSD, 50.0},
			{"budget_period", c.Policy.Default.BudgetPeriod, "month"},
			{"budget_action", c.Policy.Default.BudgetAction, "stop"},
			{"spot", c.Policy.Default.Spot, "allowed"},
			{"volume_type", c.Policy.Default.VolumeType, "gp3"},
			{"user_name_pattern", c.IAM.UserNamePattern, "tollgate-{user}"},
			{"iam path", c.IAM.Path, "/tollgate/"},
			{"policy_name", c.IAM.PolicyName, "tollgate-student"},
			{"propagation_timeout", c.IAM.PropagationTimeout, 60 * time.Second},
			{"permissions_boundary", c.IAM.PermissionsBoundary, ""},
		}
		for _, tt := range checks {
			t.Run(tt.name, func(t *testing.T) {
				if !reflect.DeepEqual(tt.got, tt.want) {
					t.Errorf("got %v, want %v", tt.got, tt.want)
				}
			})
		}
	})
	t.Run("Defaults fills a config built in code", func(t *testing.T) {
		c := &Config{AWS: AWS{Regions: []string{"eu-west-1"}}}
		c.Policy.Default.MaxInstances = 7
		c.Policy.Group = map[string]quota.Override{"b": {}, "a": {}}
		c.Defaults()
		if c.Broker.Socket != DefaultSocket || c.Policy.Default.MaxInstances != 7 || c.Policy.Default.MaxVCPUs != 4 {
			t.Errorf("got %+v", c)
		}
		if got := c.Policy.Default.Regions; !reflect.DeepEqual(got, []string{"eu-west-1"}) {
			t.Errorf("got policy regions %v, want aws.regions", got)
		}
		if got := c.Policy.GroupOrder; !reflect.DeepEqual(got, []string{"a", "b"}) {
			t.Errorf("got group order %v, want a, b", got)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate: %v", err)
		}
	})
	t.Run("Defaults on the zero config is Default", func(t *testing.T) {
		c := &Config{}
		c.Defaults()
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("got %+v\nwant %+v", c, Default())
		}
	})
	t.Run("explicit zero values stay", func(t *testing.T) {
		c := parse(t, "[accounting]\ncollect_interval = \"0\"\n[policy.default]\nbudget_usd = 0\nmax_instances = 0\n")
		if c.Accounting.CollectInterval != 0 || c.Policy.Default.BudgetUSD != 0 || c.Policy.Default.MaxInstances != 0 {
			t.Errorf("got collect %v budget %v max %v, want zeros", c.Accounting.CollectInterval, c.Policy.Default.BudgetUSD, c.Policy.Default.MaxInstances)
		}
	})
	t.Run("policy regions follow aws.regions", func(t *testing.T) {
		c := parse(t, "[aws]\nregions = [\"eu-west-1\", \"us-east-1\"]\n")
		if got := c.Policy.Default.Regions; !reflect.DeepEqual(got, []string{"eu-west-1", "us-east-1"}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("set values replace defaults", func(t *testing.T) {
		c := parse(t, `
[broker]
socket = "/tmp/t.sock"
socket_mode = "0660"
enroll_groups = ["cs61c-students"]
[aws]
endpoint_url = "http://127.0.0.1:4566"
[policy.default]
instance_types = ["t3.nano"]
spot = "required"
`)
		if c.Broker.Socket != "/tmp/t.sock" || c.Broker.SocketMode != 0o660 || c.AWS.EndpointURL != "http://127.0.0.1:4566" ||
			!reflect.DeepEqual(c.Broker.EnrollGroups, []string{"cs61c-students"}) ||
			!reflect.DeepEqual(c.Policy.Default.InstanceTypes, []string{"t3.nano"}) || c.Policy.Default.Spot != "required" {
			t.Errorf("got %+v", c)
		}
		if c.Policy.Default.MaxLifetime != 12*time.Hour {
			t.Errorf("got max_lifetime %v, want the default", c.Policy.Default.MaxLifetime)
		}
	})
}

func TestSocketMode(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
	}{
		{"0o660", 0o660},
		{"432", 0o660},
		{`"0660"`, 0o660},
		{`"660"`, 0o660},
		{`"0o600"`, 0o600},
		{`"0"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c := parse(t, "[broker]\nsocket_mode = "+tt.in+"\n")
			if c.Broker.SocketMode != tt.want {
				t.Errorf("got %#o, want %#o", c.Broker.SocketMode, tt.want)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		get  func(*Config) time.Duration
		want time.Duration
	}{
		{"hours", `max_lifetime = "12h"`, func(c *Config) time.Duration { return c.Policy.Default.MaxLifetime }, 12 * time.Hour},
		{"minutes", `default_lifetime = "90m"`, func(c *Config) time.Duration { return c.Policy.Default.DefaultLifetime }, 90 * time.Minute},
		{"mixed", `default_lifetime = "1h30m"`, func(c *Config) time.Duration { return c.Policy.Default.DefaultLifetime }, 90 * time.Minute},
		{"days", `max_lifetime = "2d"`, func(c *Config) time.Duration { return c.Policy.Default.MaxLifetime }, 48 * time.Hour},
		{"one minute", `expire_warning = "1m"`, func(c *Config) time.Duration { return c.Policy.Default.ExpireWarning }, time.Minute},
		{"warning off", `expire_warning = "0"`, func(c *Config) time.Duration { return c.Policy.Default.ExpireWarning }, 0},
		{"interval seconds", "[broker]\nreconcile_interval = \"30s\"", func(c *Config) time.Duration { return c.Broker.ReconcileInterval }, 30 * time.Second},
		{"interval days", "[accounting]\ncollect_interval = \"1d\"", func(c *Config) time.Duration { return c.Accounting.CollectInterval }, 24 * time.Hour},
		{"timeout", "[iam]\npropagation_timeout = \"2m30s\"", func(c *Config) time.Duration { return c.IAM.PropagationTimeout }, 150 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc
			if !strings.HasPrefix(doc, "[") {
				doc = "[policy.default]\n" + doc
			}
			if got := tt.get(parse(t, doc+"\n")); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestErrors checks the exact text of every error: file:line: key: message.
func TestErrors(t *testing.T) {
	// The [broker] keys in field order, so that adding a broker key changes no test here
	// (the exact lists of [aws] and [policy.group.*] keys are checked).
	brokerKeys := strings.Join(knownKeys([]string{"broker", "x"}), ", ")
	if !strings.HasPrefix(brokerKeys, "socket, database, database_password_file, admin_group, ") {
		t.Fatalf("broker keys %q", brokerKeys)
	}
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		// Syntax and types.
		{"syntax", "[broker\n", []string{`1: expected ']' to close table name`}},
		{"duplicate key", "[broker]\nsocket = \"/a\"\nsocket = \"/b\"\n", []string{`3: broker.socket: key socket is already defined`}},
		{"type mismatch string", "[broker]\nsocket = 3\n", []string{`2: broker.socket: expected a string, got a TOML integer`}},
		{"type mismatch int", "[policy.default]\nmax_instances = \"2\"\n", []string{`2: policy.default.max_instances: expected an integer, got a TOML string`}},
		{"type mismatch list", "[aws]\nregions = \"us-west-2\"\n", []string{`2: aws.regions: expected a list of strings, got a TOML string`}},
		{"bad duration", "[policy.default]\n\nmax_lifetime = \"12x\"\n",
			[]string{`3: policy.default.max_lifetime: "12x" is not a duration (use whole numbers with d, h or m, e.g. 4h, 90m, 1h30m, 2d)`}},
		{"duration seconds", "[policy.default]\ndefault_lifetime = \"90s\"\n",
			[]string{`2: policy.default.default_lifetime: "90s" is finer than a minute (use whole numbers with d, h or m, e.g. 4h, 90m, 1h30m, 2d)`}},
		{"duration number", "[policy.group.staff]\nmax_lifetime = 12\n",
			[]string{`2: policy.group.staff.max_lifetime: expected a duration string such as "4h", got a TOML integer`}},
		{"interval number", "[accounting]\ncollect_interval = 5.0\n",
			[]string{`2: accounting.collect_interval: expected a duration string such as "4h", got a TOML float`}},
		{"duration in an inline table", "[policy]\ndefault = { max_lifetime = true }\n",
			[]string{`2: policy.default.max_lifetime: expected a duration string such as "4h", got a TOML boolean`}},
		{"duration as a table", "[policy.default.max_lifetime]\nx = 1\n",
			[]string{`1: policy.default.max_lifetime: expected a duration string such as "4h", got a TOML table`}},
		{"duration negative", "[policy.default]\nexpire_warning = \"-5m\"\n",
			[]string{`2: policy.default.expire_warning: "-5m" is negative (use whole numbers with d, h or m, e.g. 4h, 90m, 1h30m, 2d)`}},
		{"bad interval", "[broker]\nreconcile_interval = \"soon\"\n",
			[]string{`2: broker.reconcile_interval: "soon" is not a duration (use whole seconds or more, e.g. 30s, 5m, 1h)`}},
		{"bad socket mode", "[broker]\nsocket_mode = \"rw\"\n",
			[]string{`2: broker.socket_mode: "rw" is not an octal file mode (use e.g. 0o660 or "0660")`}},
		{"dotted key position", "policy.default.max_lifetime = \"x\"\n",
			[]string{`1: policy.default.max_lifetime: "x" is not a duration (use whole numbers with d, h or m, e.g. 4h, 90m, 1h30m, 2d)`}},
		{"bad date type", "[accounting]\nterm_start = 20260105\n",
			[]string{`2: accounting.term_start: expected a date such as "2026-01-20", got 20260105`}},

		{"list element type", "[aws]\nregions = [\"us-west-2\", 2]\n", []string{`2: aws.regions: expected a string, got a TOML integer`}},
		{"integer as float", "[aws]\nrun_instances_burst = 2.5\n", []string{`2: aws.run_instances_burst: expected an integer, got a TOML float`}},
		{"socket mode out of range", "[broker]\nsocket_mode = 5000000000\n", []string{`2: broker.socket_mode: 5000000000 is not a file mode (use e.g. 0o660)`}},
		{"negative socket mode", "[broker]\nsocket_mode = -1\n", []string{`2: broker.socket_mode: -1 is not a file mode (use e.g. 0o660)`}},
		{"socket mode as a list", "[broker]\nsocket_mode = [1]\n", []string{`2: broker.socket_mode: expected an integer such as 0o660, got a TOML array`}},
		{"section as a value", "broker = 1\n", []string{`1: broker: expected a table, got a TOML integer`}},
		{"section as an array of tables", "[[aws]]\nregions = []\n", []string{`1: aws: expected a table, got a TOML array`}},
		{"group as a value", "[policy]\ngroup.staff = 3\n", []string{`2: policy.group.staff: expected a table, got a TOML integer`}},
		{"price as a string", "[accounting.prices]\n\"t3.micro/us-west-2\" = \"cheap\"\n", []string{`2: accounting.prices."t3.micro/us-west-2": expected a number, got a TOML string`}},
		{"prices as a list", "[accounting]\nprices = [1]\n", []string{`2: accounting.prices: expected a table of numbers, got a TOML array`}},
		{"duration as a date", "[policy.default]\nmax_lifetime = 2026-01-05\n", []string{`2: policy.default.max_lifetime: expected a duration string such as "4h", got a TOML date or time`}},
		{"every bad value", "[broker]\nsocket = 1\n[policy.default]\nmax_lifetime = \"x\"\n[policy.group.staff]\nspot = 2\n", []string{
			`2: broker.socket: expected a string, got a TOML integer`,
			`4: policy.default.max_lifetime: "x" is not a duration (use whole numbers with d, h or m, e.g. 4h, 90m, 1h30m, 2d)`,
			`6: policy.group.staff.spot: expected a string, got a TOML integer`,
		}},
		{"redefined table", "[broker]\nsocket = \"/a\"\n[broker]\n", []string{`3: broker: table broker already exists`}},

		// Unknown keys.
		{"unknown key", "[broker]\nsockets = \"/a\"\n",
			[]string{`2: broker.sockets: unknown key (known keys here: ` + brokerKeys + `)`}},
		{"unknown table", "[brokers]\nsocket = \"/a\"\n", []string{`1: brokers: unknown table (known keys here: broker, aws, policy, accounting, iam, balancer, regions)`}},
		{"unknown top-level key", "\n\nverbose = true\n", []string{`3: verbose: unknown key (known keys here: broker, aws, policy, accounting, iam, balancer, regions)`}},
		{"unknown group key", "[policy.group.staff]\nmax_instance = 3\n",
			[]string{`2: policy.group.staff.max_instance: unknown key (known keys here: max_instances, max_vcpus, max_count, instance_types, images, image_owners, regions, default_lifetime, max_lifetime, expire_action, expire_warning, budget_usd, budget_period, budget_action, spot, security_groups, subnet, instance_profile, volume_size_gb, volume_type)`}},
		{"unknown key in an inline group", "[policy.group]\nstaff = { max_instances = 1, maxlifetime = \"2h\" }\n",
			[]string{`2: policy.group.staff.maxlifetime: unknown key (known keys here: max_instances, max_vcpus, max_count, instance_types, images, image_owners, regions, default_lifetime, max_lifetime, expire_action, expire_warning, budget_usd, budget_period, budget_action, spot, security_groups, subnet, instance_profile, volume_size_gb, volume_type)`}},
		{"unknown dotted key", "aws.region = \"us-west-2\"\n",
			[]string{`1: aws.region: unknown key (known keys here: regions, endpoint_url, profile, run_instances_per_second, run_instances_burst)`}},
		{"unknown nested table", "[accounting.price]\nx = 1\n",
			[]string{`1: accounting.price: unknown table (known keys here: collect_interval, term_start, term_end, prices, volume_prices, mail_command, mail_domain)`}},
		{"empty key", "\"\" = 1\n", []string{`1: "": unknown key (known keys here: broker, aws, policy, accounting, iam, balancer, regions)`}},
		{"empty key in a section", "[iam]\n\"\" = \"x\"\n", []string{`2: iam."": unknown key (known keys here: user_name_pattern, path, policy_file, policy_name, propagation_timeout, permissions_boundary)`}},
		{"every unknown key", "[broker]\na = 1\n[aws]\nb = 2\n", []string{
			`2: broker.a: unknown key (known keys here: ` + brokerKeys + `)`,
			`4: aws.b: unknown key (known keys here: regions, endpoint_url, profile, run_instances_per_second, run_instances_burst)`,
		}},

		// Credentials.
		{"access key", "[aws]\nregions = [\"us-west-2\"]\naccess_key_id = \"AKIAEXAMPLE\"\n", []string{`3: aws.access_key_id: ` + credentialHint}},
		{"secret key anywhere", "[broker]\nsecret_access_key = \"s3cr3t\"\n", []string{`2: broker.secret_access_key: ` + credentialHint}},
		{"credentials table", "[aws.credentials]\nkey = \"x\"\n", []string{`1: aws.credentials: ` + credentialHint}},
		{"inline credentials", "aws = { session_token = \"x\" }\n", []string{`1: aws.session_token: ` + credentialHint}},
		{"endpoint with password", "[aws]\nendpoint_url = \"http://user:pw@127.0.0.1:4566\"\n", []string{`2: aws.endpoint_url: must not hold credentials: ` + credentialHint}},

		// Broker.
		{"relative socket", "[broker]\nsocket = \"tollgate.sock\"\n", []string{`2: broker.socket: "tollgate.sock" is not an absolute path`}},
		{"relative database", "[broker]\ndatabase = \"db/tollgate.db\"\n", []string{`2: broker.database: "db/tollgate.db" is not an absolute path (an SQLite file) or a postgres:// URL`}},
		{"unknown scheme, password not echoed", "[broker]\ndatabase = \"postgress://tg:hunter2@db.example.edu/tollgate\"\n",
			[]string{`2: broker.database: "postgress://xxxxx@db.example.edu/tollgate" is not an absolute path (an SQLite file) or a postgres:// URL`}},
		{"upper-case scheme, password not echoed", "[broker]\ndatabase = \"POSTGRES://tg:hunter2@db.example.edu/tollgate\"\n",
			[]string{`2: broker.database: "POSTGRES://xxxxx@db.example.edu/tollgate" is not an absolute path (an SQLite file) or a postgres:// URL`}},
		{"unknown scheme, password with a slash", "[broker]\ndatabase = \"pg://tg:hun/ter?2@db.example.edu/tollgate\"\n",
			[]string{`2: broker.database: "pg://xxxxx@db.example.edu/tollgate" is not an absolute path (an SQLite file) or a postgres:// URL`}},
		{"postgres URL", "[broker]\ndatabase = \"postgres://tollgate@db.example.edu:5432/tollgate?sslmode=verify-full\"\n", nil},
		{"postgresql URL", "[broker]\ndatabase = \"postgresql://db.example.edu/tollgate\"\n", nil},
		{"postgres unix socket", "[broker]\ndatabase = \"postgres:///tollgate?host=/run/postgresql\"\n", nil},
		{"postgres dbname option", "[broker]\ndatabase = \"postgres://db.example.edu/?dbname=tollgate\"\n", nil},
		{"postgres with a password file", "[broker]\ndatabase = \"postgres:///tollgate?host=/run/postgresql\"\ndatabase_password_file = \"/etc/tollgate/database-password\"\n", nil},
		{"sqlite with an empty password file", "[broker]\ndatabase = \"/var/lib/tollgate/tollgate.db\"\ndatabase_password_file = \"\"\n", nil},
		{"postgres unparsable", "[broker]\ndatabase = \"postgres://tg:hunter2@[::1/tollgate\"\n",
			[]string{`2: broker.database: is not a valid URL: want postgres://[user@]host[:port]/database[?options]`}},
		{"postgres empty password", "[broker]\ndatabase = \"postgres://tg:@db.example.edu/tollgate\"\n",
			[]string{`2: broker.database: carries a password: put it in database_password_file (mode 0600) or the environment variable TOLLGATE_DATABASE_PASSWORD, never in the configuration`}},
		{"postgres encoded password option", "[broker]\ndatabase = \"postgres://db.example.edu/tollgate?pass%77ord=hunter2\"\n",
			[]string{`2: broker.database: carries a password: put it in database_password_file (mode 0600) or the environment variable TOLLGATE_DATABASE_PASSWORD, never in the configuration`}},
		{"postgres every problem", "[broker]\ndatabase = \"postgres://:hunter2@\"\n", []string{
			`2: broker.database: carries a password: put it in database_password_file (mode 0600) or the environment variable TOLLGATE_DATABASE_PASSWORD, never in the configuration`,
			`2: broker.database: names no server: give a host (postgres://host/database) or a unix socket directory (postgres:///database?host=/run/postgresql)`,
			`2: broker.database: names no database: postgres://host/DATABASE`,
		}},
		{"postgres password in the URL", "[broker]\ndatabase = \"postgres://tg:hunter2@db.example.edu/tollgate\"\n",
			[]string{`2: broker.database: carries a password: put it in database_password_file (mode 0600) or the environment variable TOLLGATE_DATABASE_PASSWORD, never in the configuration`}},
		{"postgres password option", "[broker]\ndatabase = \"postgres://db.example.edu/tollgate?password=hunter2\"\n",
			[]string{`2: broker.database: carries a password: put it in database_password_file (mode 0600) or the environment variable TOLLGATE_DATABASE_PASSWORD, never in the configuration`}},
		{"postgres without a server", "[broker]\ndatabase = \"postgres:///tollgate\"\n",
			[]string{`2: broker.database: names no server: give a host (postgres://host/database) or a unix socket directory (postgres:///database?host=/run/postgresql)`}},
		{"postgres without a database", "[broker]\ndatabase = \"postgresql://db.example.edu\"\n",
			[]string{`2: broker.database: names no database: postgres://host/DATABASE`}},
		{"password file for sqlite", "[broker]\ndatabase_password_file = \"/etc/tollgate/pw\"\n",
			[]string{`2: broker.database_password_file: is only for a PostgreSQL database (database = "postgres://…"); an SQLite file has no password`}},
		{"relative password file", "[broker]\ndatabase = \"postgres:///tg?host=/run/postgresql\"\ndatabase_password_file = \"pw\"\n",
			[]string{`3: broker.database_password_file: "pw" is not an absolute path`}},
		{"empty admin group", "[broker]\nadmin_group = \"\"\n", []string{`2: broker.admin_group: a group name is empty`}},
		{"bad enroll group", "[broker]\nenroll_groups = [\"cs 61c\"]\n", []string{`2: broker.enroll_groups: "cs 61c" is not a group name`}},
		{"socket mode too large", "[broker]\nsocket_mode = 0o1777\n", []string{`2: broker.socket_mode: 01777 is not a permission mode (use e.g. 0o666 or 0o660)`}},
		{"reconcile zero", "[broker]\nreconcile_interval = \"0\"\n", []string{`2: broker.reconcile_interval: 0s is shorter than 1s`}},
		{"log level", "[broker]\nlog_level = \"trace\"\n", []string{`2: broker.log_level: "trace" is not one of debug, info, warn, error`}},

		// AWS.
		{"no regions", "[aws]\nregions = []\n", []string{`2: aws.regions: is empty: list the regions to use, e.g. ["us-west-2"]`}},
		{"bad region", "[aws]\nregions = [\"us-west-2\", \"mars-1\"]\n", []string{`2: aws.regions: "mars-1" is not an AWS region name (e.g. us-west-2)`}},
		{"region twice", "[aws]\nregions = [\"us-west-2\", \"us-west-2\"]\n", []string{`2: aws.regions: "us-west-2" is listed twice`}},
		{"endpoint http remote", "[aws]\nendpoint_url = \"http://sim.example.edu:4566\"\n", []string{`2: aws.endpoint_url: "http://sim.example.edu:4566" is plain http to a host that is not loopback: use https, or http only to 127.0.0.1, ::1 or localhost`}},
		{"endpoint http private address", "[aws]\nendpoint_url = \"http://10.0.0.5\"\n", []string{`2: aws.endpoint_url: "http://10.0.0.5" is plain http to a host that is not loopback: use https, or http only to 127.0.0.1, ::1 or localhost`}},
		{"endpoint http loopback", "[aws]\nendpoint_url = \"http://127.0.0.2:4566\"\n", nil},
		{"endpoint http ipv6 loopback", "[aws]\nendpoint_url = \"http://[::1]:4566\"\n", nil},
		{"endpoint http localhost", "[aws]\nendpoint_url = \"http://LocalHost:4566/\"\n", nil},
		{"endpoint https remote", "[aws]\nendpoint_url = \"https://sim.example.edu\"\n", nil},
		{"endpoint scheme", "[aws]\nendpoint_url = \"ftp://x\"\n", []string{`2: aws.endpoint_url: "ftp://x" is not an http or https URL (e.g. http://127.0.0.1:4566)`}},
		{"endpoint no host", "[aws]\nendpoint_url = \"http://\"\n", []string{`2: aws.endpoint_url: "http://" is not an http or https URL (e.g. http://127.0.0.1:4566)`}},
		{"endpoint unparsable", "[aws]\nendpoint_url = \"http://[::1\"\n", []string{`2: aws.endpoint_url: "http://[::1" is not an http or https URL (e.g. http://127.0.0.1:4566)`}},
		{"rate", "[aws]\nrun_instances_per_second = 0\n", []string{`2: aws.run_instances_per_second: 0 is not a positive rate`}},
		{"burst", "[aws]\nrun_instances_burst = 0\n", []string{`2: aws.run_instances_burst: 0 is less than 1`}},

		// Default policy.
		{"negative limit", "[policy.default]\nmax_vcpus = -4\n", []string{`2: policy.default.max_vcpus: -4 is negative (use 0 or more)`}},
		{"default beyond max", "[policy.default]\ndefault_lifetime = \"24h\"\n", []string{`2: policy.default.default_lifetime: 24h is longer than max_lifetime 12h`}},
		{"default beyond max, only max written", "[policy.default]\nmax_lifetime = \"2h\"\n", []string{`2: policy.default.default_lifetime: 4h is longer than max_lifetime 2h`}},
		{"lifetime zero", "[policy.default]\nmax_lifetime = \"0\"\n", []string{`2: policy.default.max_lifetime: 0m is shorter than 1m`}},
		{"no instance types", "[policy.default]\ninstance_types = []\n", []string{`2: policy.default.instance_types: is empty: list at least one value users may choose`}},
		{"bad type pattern", "[policy.default]\ninstance_types = [\"t3.[\"]\n", []string{`2: policy.default.instance_types: "t3.[" is not a valid pattern (use * and ? as in t3.* or ubuntu/*jammy*)`}},
		{"bad expire action", "[policy.default]\nexpire_action = \"hibernate\"\n", []string{`2: policy.default.expire_action: "hibernate" is not one of stop, terminate`}},
		{"bad budget action", "[policy.default]\nbudget_action = \"shout\"\n", []string{`2: policy.default.budget_action: "shout" is not one of stop, terminate, notify`}},
		{"bad period", "[policy.default]\nbudget_period = \"year\"\n", []string{`2: policy.default.budget_period: "year" is not one of term, month, week`}},
		{"bad spot", "[policy.default]\nspot = \"maybe\"\n", []string{`2: policy.default.spot: "maybe" is not one of allowed, required, forbidden`}},
		{"bad volume type", "[policy.default]\nvolume_type = \"ssd\"\n", []string{`2: policy.default.volume_type: "ssd" is not one of gp3, gp2, io1, io2, st1, sc1, standard`}},
		{"negative budget", "[policy.default]\nbudget_usd = -5.0\n", []string{`2: policy.default.budget_usd: -5 is not an amount of dollars (use 0 for no budget)`}},
		{"region not scanned", "[policy.default]\nregions = [\"eu-west-1\"]\n", []string{`2: policy.default.regions: "eu-west-1" is not in aws.regions (us-west-2): the collector would never see its instances`}},
		{"several problems", "[policy.default]\nspot = \"x\"\n\n[broker]\nsocket = \"s\"\n", []string{
			`2: policy.default.spot: "x" is not one of allowed, required, forbidden`,
			`5: broker.socket: "s" is not an absolute path`,
		}},

		// Groups.
		{"group negative", "[policy.group.staff]\nmax_instances = -1\n", []string{`2: policy.group.staff.max_instances: -1 is negative (use 0 or more)`}},
		{"group max below default lifetime", "[policy.group.staff]\nmax_lifetime = \"2h\"\n",
			[]string{`2: policy.group.staff.max_lifetime: default_lifetime 4h is longer than max_lifetime 2h (default_lifetime from policy.default)`}},
		{"group inherits a problem it causes", "[policy.default]\nbudget_period = \"term\"\n[accounting]\nterm_start = \"2026-01-05\"\nterm_end = \"2026-05-15\"\n[policy.group.staff]\nmax_instances = 1\n", nil},
		{"group region not scanned", "[policy.group.staff]\nregions = [\"eu-west-1\"]\n", []string{`2: policy.group.staff.regions: "eu-west-1" is not in aws.regions (us-west-2): the collector would never see its instances`}},
		{"image owners", "[policy.default]\nimage_owners = [\"self\", \"099720109477\", \"aws-marketplace\"]\n", nil},
		{"image owner", "[policy.default]\nimage_owners = [\"canonical\"]\n", []string{`2: policy.default.image_owners: "canonical" is not an image owner: use self, amazon, aws-marketplace or a 12-digit account id`}},
		{"group image owner", "[policy.group.staff]\nimage_owners = [\"1234\"]\n", []string{`2: policy.group.staff.image_owners: "1234" is not an image owner: use self, amazon, aws-marketplace or a 12-digit account id`}},
		{"group name", "[policy.group.\"a b\"]\nmax_instances = 1\n", []string{`1: policy.group."a b": "a b" is not a group name`}},
		{"default problem reported once", "[policy.default]\nspot = \"x\"\n[policy.group.staff]\nmax_instances = 1\n",
			[]string{`2: policy.default.spot: "x" is not one of allowed, required, forbidden`}},

		// Accounting.
		{"term without dates", "[policy.default]\nbudget_period = \"term\"\n", []string{
			`2: accounting.term_start: is not set but policy.default.budget_period is "term" (set it to a date YYYY-MM-DD)`,
			`2: accounting.term_end: is not set but policy.default.budget_period is "term" (set it to a date YYYY-MM-DD)`,
		}},
		{"term in a group", "[policy.group.staff]\nbudget_period = \"term\"\n[accounting]\nterm_start = \"2026-01-05\"\n", []string{
			`2: accounting.term_end: is not set but policy.group.staff.budget_period is "term" (set it to a date YYYY-MM-DD)`,
		}},
		{"bad date", "[accounting]\nterm_start = \"2026-13-01\"\nterm_end = \"2026-05-15\"\n", []string{`2: accounting.term_start: "2026-13-01" is not a date YYYY-MM-DD`}},
		{"dates reversed", "[accounting]\nterm_start = \"2026-05-15\"\nterm_end = \"2026-01-05\"\n", []string{`3: accounting.term_end: 2026-01-05 is not after term_start 2026-05-15`}},
		{"TOML dates", "[policy.default]\nbudget_period = \"term\"\n[accounting]\nterm_start = 2026-01-05\nterm_end = 2026-05-15\n", nil},
		{"negative collect interval", "[accounting]\ncollect_interval = \"-5m\"\n", []string{`2: accounting.collect_interval: "-5m" is not a duration (use whole seconds or more, e.g. 30s, 5m, 1h)`}},
		{"price key", "[accounting.prices]\n\"t3.micro\" = 0.01\n", []string{`2: accounting.prices."t3.micro": is not "type/region" (e.g. "t3.micro/us-west-2")`}},
		{"price value", "[accounting.prices]\n\"t3.micro/us-west-2\" = -0.01\n", []string{`2: accounting.prices."t3.micro/us-west-2": -0.01 is not a price in USD per hour`}},
		{"volume price", "[accounting.volume_prices]\nssd = 0.1\n", []string{`2: accounting.volume_prices.ssd: "ssd" is not a volume type (gp3, gp2, io1, io2, st1, sc1, standard)`}},
		{"volume price value", "[accounting.volume_prices]\ngp3 = nan\n", []string{`2: accounting.volume_prices.gp3: NaN is not a price in USD per GB-month`}},
		{"relative mail command", "[accounting]\nmail_command = [\"sendmail\", \"-t\"]\n", []string{`2: accounting.mail_command: "sendmail" is not an absolute path (e.g. /usr/sbin/sendmail)`}},
		{"mail domain", "[accounting]\nmail_domain = \"root@example.edu\"\n", []string{`2: accounting.mail_domain: "root@example.edu" is not a domain (write example.edu, not user@example.edu)`}},

		// IAM.
		{"pattern without user", "[iam]\nuser_name_pattern = \"tollgate\"\n", []string{`2: iam.user_name_pattern: "tollgate" does not contain {user}`}},
		{"pattern characters", "[iam]\nuser_name_pattern = \"tg/{user}\"\n", []string{`2: iam.user_name_pattern: "tg/{user}" holds characters IAM user names cannot (use letters, digits and +=,.@_-)`}},
		{"pattern too long", "[iam]\nuser_name_pattern = \"" + strings.Repeat("x", 40) + "{user}\"\n",
			[]string{`2: iam.user_name_pattern: "` + strings.Repeat("x", 40) + `{user}" gives names longer than IAM's 64 characters for a 32-character user name`}},
		{"iam path", "[iam]\npath = \"tollgate\"\n", []string{`2: iam.path: "tollgate" is not an IAM path (it starts and ends with /, e.g. /tollgate/)`}},
		{"policy name", "[iam]\npolicy_name = \"a b\"\n", []string{`2: iam.policy_name: "a b" is not an IAM policy name (1 to 128 of letters, digits and +=,.@_-)`}},
		{"propagation", "[iam]\npropagation_timeout = \"0\"\n", []string{`2: iam.propagation_timeout: 0s is shorter than 1s`}},
		{"boundary not an arn", "[iam]\npath = \"/tollgate/\"\npermissions_boundary = \"tollgate-student-boundary\"\n",
			[]string{`3: iam.permissions_boundary: "tollgate-student-boundary" is not an IAM policy ARN (e.g. arn:aws:iam::123456789012:policy/tollgate-student-boundary)`}},
		{"boundary placeholder account", "[iam]\npermissions_boundary = \"arn:aws:iam::ACCOUNT:policy/tollgate-student-boundary\"\n",
			[]string{`2: iam.permissions_boundary: "arn:aws:iam::ACCOUNT:policy/tollgate-student-boundary" is not an IAM policy ARN (e.g. arn:aws:iam::123456789012:policy/tollgate-student-boundary)`}},
		{"boundary is a user arn", "[iam]\npermissions_boundary = \"arn:aws:iam::123456789012:user/tollgate/x\"\n",
			[]string{`2: iam.permissions_boundary: "arn:aws:iam::123456789012:user/tollgate/x" is not an IAM policy ARN (e.g. arn:aws:iam::123456789012:policy/tollgate-student-boundary)`}},
		{"boundary wildcard", "[iam]\npermissions_boundary = \"arn:aws:iam::123456789012:policy/*\"\n",
			[]string{`2: iam.permissions_boundary: "arn:aws:iam::123456789012:policy/*" is not an IAM policy ARN (e.g. arn:aws:iam::123456789012:policy/tollgate-student-boundary)`}},
		{"boundary not a string", "[iam]\npermissions_boundary = 1\n", []string{`2: iam.permissions_boundary: expected a string, got a TOML integer`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(file, []byte(tt.doc))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = file + ":" + w
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != file || ce.Line == 0 {
				t.Errorf("got %#v, want an *Error with file and line", ce)
			}
		})
	}
}

// TestPermissionsBoundary: the boundary ARNs IAM accepts are taken as written.
func TestPermissionsBoundary(t *testing.T) {
	tests := []struct {
		name string
		arn  string
	}{
		{"customer managed", "arn:aws:iam::123456789012:policy/tollgate-student-boundary"},
		{"with a path", "arn:aws:iam::123456789012:policy/teaching/tollgate-student-boundary"},
		{"china partition", "arn:aws-cn:iam::123456789012:policy/tollgate-student-boundary"},
		{"govcloud partition", "arn:aws-us-gov:iam::123456789012:policy/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parse(t, "[iam]\npermissions_boundary = \""+tt.arn+"\"\n")
			if got := c.IAM.PermissionsBoundary; got != tt.arn {
				t.Errorf("got %q, want %q", got, tt.arn)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"full", Error{File: "f.toml", Line: 3, Key: "a.b", Message: "bad"}, "f.toml:3: a.b: bad"},
		{"no line", Error{File: "f.toml", Key: "a.b", Message: "bad"}, "f.toml: a.b: bad"},
		{"no key", Error{File: "f.toml", Line: 1, Message: "bad"}, "f.toml:1: bad"},
		{"built in code", Error{Key: "a.b", Message: "bad"}, "a.b: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateInCode(t *testing.T) {
	c := Default()
	c.Broker.Socket = "relative"
	c.Policy.Default.MaxInstances = -1
	err := c.Validate()
	want := "broker.socket: \"relative\" is not an absolute path\npolicy.default.max_instances: -1 is negative (use 0 or more)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestGroupOrder(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"tables", "[policy.group.zeta]\nmax_instances = 1\n[policy.group.alpha]\nmax_instances = 2\n[policy.group.mid]\nmax_instances = 3\n", []string{"zeta", "alpha", "mid"}},
		{"dotted keys", "[policy]\ngroup.b.max_instances = 1\ngroup.a.max_instances = 2\n", []string{"b", "a"}},
		{"inline tables", "[policy.group]\nb = { max_instances = 1 }\na = { max_instances = 2 }\n", []string{"b", "a"}},
		{"quoted names", "[policy.group.\"cs61c.staff\"]\nmax_instances = 1\n[policy.group.ta]\nmax_instances = 2\n", []string{"cs61c.staff", "ta"}},
		{"none", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parse(t, tt.doc)
			if !reflect.DeepEqual(c.Policy.GroupOrder, tt.want) {
				t.Errorf("got %q, want %q", c.Policy.GroupOrder, tt.want)
			}
		})
	}
}

func TestEffectivePolicy(t *testing.T) {
	c := parse(t, `
[policy.default]
max_instances = 2
[policy.group.students]
max_instances = 3
max_vcpus = 6
[policy.group.staff]
max_instances = 10
[policy.group.gpu]
instance_types = ["g4dn.xlarge"]
`)
	tests := []struct {
		name          string
		groups        []string
		user          *quota.Override
		wantInstances int
		wantVCPUs     int
		wantTypes     []string
	}{
		{"no groups", nil, nil, 2, 4, []string{"t3.micro", "t3.small"}},
		{"unrelated group", []string{"users"}, nil, 2, 4, []string{"t3.micro", "t3.small"}},
		{"one group", []string{"students"}, nil, 3, 6, []string{"t3.micro", "t3.small"}},
		{"file order, not the user's order", []string{"staff", "students"}, nil, 10, 6, []string{"t3.micro", "t3.small"}},
		{"groups combine", []string{"gpu", "students"}, nil, 3, 6, []string{"g4dn.xlarge"}},
		{"user override last", []string{"staff"}, &quota.Override{MaxInstances: ptr(1)}, 1, 4, []string{"t3.micro", "t3.small"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := c.EffectivePolicy(tt.groups, tt.user)
			if p.MaxInstances != tt.wantInstances || p.MaxVCPUs != tt.wantVCPUs || !reflect.DeepEqual(p.InstanceTypes, tt.wantTypes) {
				t.Errorf("got max_instances %d max_vcpus %d types %v, want %d %d %v",
					p.MaxInstances, p.MaxVCPUs, p.InstanceTypes, tt.wantInstances, tt.wantVCPUs, tt.wantTypes)
			}
		})
	}
	t.Run("config built in code applies every group", func(t *testing.T) {
		c := Default()
		c.Policy.Group = map[string]quota.Override{"b": {MaxInstances: ptr(5)}, "a": {MaxInstances: ptr(4)}}
		if got := c.EffectivePolicy([]string{"a", "b"}, nil).MaxInstances; got != 5 {
			t.Errorf("got %d, want 5 (groups by name when GroupOrder is unset)", got)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestExample(t *testing.T) {
	c, err := Parse("example.toml", []byte(Example()))
	if err != nil {
		t.Fatalf("Example does not parse: %v", err)
	}
	t.Run("sets every key to its default", func(t *testing.T) {
		want := Default()
		got := *c
		got.Policy.Group, got.Policy.GroupOrder = nil, nil
		got.Path, got.lines = "", nil
		// The example writes empty lists where the defaults are nil.
		want.Broker.EnrollGroups = []string{}
		want.Policy.Default.SecurityGroups = []string{}
		want.Accounting.MailCommand = []string{}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("got %+v\nwant %+v", &got, want)
		}
	})
	t.Run("documents every key", func(t *testing.T) {
		for _, section := range []string{"broker", "aws", "accounting", "iam"} {
			for _, k := range knownKeys([]string{section, "x"}) {
				if _, ok := c.lines[section+"."+k]; !ok {
					t.Errorf("Example does not show %s.%s", section, k)
				}
			}
		}
		for _, k := range knownKeys([]string{"policy", "default", "x"}) {
			if _, ok := c.lines["policy.default."+k]; !ok {
				t.Errorf("Example does not show policy.default.%s", k)
			}
		}
	})
	t.Run("testdata copy", func(t *testing.T) {
		path := filepath.Join("testdata", "example.toml")
		if *update {
			if err := os.WriteFile(path, []byte(Example()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != Example() {
			t.Errorf("%s differs from Example(); run go test ./config -run TestExample -update", path)
		}
	})
}

func TestLoad(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{file: "example.toml", check: func(t *testing.T, c *Config) {
			if got := c.EffectivePolicy([]string{"tollgate-staff"}, nil).MaxLifetime; got != 48*time.Hour {
				t.Errorf("got staff max_lifetime %v, want 48h", got)
			}
		}},
		{file: "minimal.toml", check: func(t *testing.T, c *Config) {
			if c.AWS.EndpointURL != "http://127.0.0.1:4566" || c.Broker.Socket != "/tmp/tollgate-dev/tollgate.sock" {
				t.Errorf("got %+v", c)
			}
		}},
		{file: "course.toml", check: func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(c.Policy.GroupOrder, []string{"cs61c-students", "cs61c-tas", "cs61c-staff"}) {
				t.Errorf("got group order %v", c.Policy.GroupOrder)
			}
			p := c.EffectivePolicy([]string{"cs61c-staff", "cs61c-students"}, nil)
			if p.MaxInstances != 10 || p.BudgetPeriod != "term" || p.Spot != "forbidden" {
				t.Errorf("got %+v", p)
			}
			if c.Accounting.TermStart != "2026-01-20" || c.Accounting.Prices["t3.micro/us-west-2"] != 0.0104 {
				t.Errorf("got %+v", c.Accounting)
			}
		}},
		{file: "credentials.toml", wantErr: "credentials.toml:9: aws.secret_access_key: credentials are never read"},
		{file: "invalid.toml", wantErr: "invalid.toml:5: policy.default.max_lifetime: \"12x\" is not a duration"},
		{file: "missing.toml", wantErr: "read config: open testdata/missing.toml: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			c, err := Load(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Path != path {
				t.Errorf("got Path %q, want %q", c.Path, path)
			}
			tt.check(t, c)
		})
	}
	t.Run("the secret is not echoed", func(t *testing.T) {
		_, err := Load(filepath.Join("testdata", "credentials.toml"))
		if err == nil || strings.Contains(err.Error(), "wJalrXUtnFEMI") || strings.Contains(err.Error(), "AKIA") {
			t.Errorf("got %v, want an error that does not repeat the credentials", err)
		}
	})
}

func TestBalancerPoolErrors(t *testing.T) {
	dir := t.TempDir()
	gb := filepath.Join(dir, "aws_balancer.conf")
	if err := os.WriteFile(gb, []byte("[LOAD TABLE]\n0.1 0 1\n1 2\n[SLAVE]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, toml, want string }{
		{"gbrowse bad line", "[[balancer.pool]]\nname = \"gb\"\ngbrowse_conf = \"" + gb + "\"\n", gb + ":3: load table row"},
		{"bad fallback", "[[balancer.pool]]\nname = \"web\"\nload_source = \"file:/run/load\"\nregion = \"us-west-2\"\nimage = \"ami-1\"\ninstance_types = [\"m5.large\"]\nmaster_address = \"10.0.0.1\"\nfallback = \"sometimes\"\n",
			`pool web: fallback: "sometimes": want "wait" or "on-demand"`},
		{"open to the world", "[[balancer.pool]]\nname = \"web\"\nload_source = \"file:/run/load\"\nregion = \"us-west-2\"\nimage = \"ami-1\"\ninstance_types = [\"m5.large\"]\nmaster_address = \"0.0.0.0/0\"\n",
			"admits the whole internet"},
		{"unknown key", "[[balancer.pool]]\nname = \"web\"\nbid = 1\n", "balancer.pool.bid: unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/etc/tollgate/tollgate.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	ok := "[[balancer.pool]]\nname = \"web\"\nload_source = \"file:/run/load\"\nregion = \"us-west-2\"\nimage = \"ami-1\"\ninstance_types = [\"m5.large\"]\nmaster_address = \"10.0.0.1\"\nspot_bid = 0.05\nfallback = \"on-demand\"\npoll_interval = \"1m\"\n"
	c, err := Parse("/etc/tollgate/tollgate.toml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Balancer.Pools[0]; p.Bid() != 0.05 || p.PollInterval != time.Minute || p.Fallback != "on-demand" {
		t.Errorf("pool = %+v", p)
	}
}

// TestDatabaseEngine: a postgres:// or postgresql:// URL is PostgreSQL, anything else an
// SQLite file (which validation then requires to be an absolute path).
func TestDatabaseEngine(t *testing.T) {
	tests := []struct{ database, want string }{
		{"/var/lib/tollgate/tollgate.db", EngineSQLite},
		{"postgres://tollgate@db.example.edu/tollgate", EnginePostgres},
		{"postgresql://db.example.edu/tollgate", EnginePostgres},
		{"postgres:///tollgate?host=/run/postgresql", EnginePostgres},
		{"POSTGRES://db.example.edu/tollgate", EngineSQLite}, // the driver's prefix is lower case
		{"", EngineSQLite},
	}
	for _, tt := range tests {
		t.Run(tt.database, func(t *testing.T) {
			if got := (Broker{Database: tt.database}).DatabaseEngine(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDatabasePassword: the password comes from a file only its owner can read, or the
// environment; never from the configuration, and no error repeats it.
func TestDatabasePassword(t *testing.T) {
	const secret = "hunter2"
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not subject to the umask
			t.Fatal(err)
		}
		return p
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file("target", secret, 0o600), link); err != nil {
		t.Fatal(err)
	}
	const url = "postgres://tollgate@db.example.edu/tollgate"
	tests := []struct {
		name    string
		broker  Broker
		env     string
		want    string
		wantErr string // a part of the error; "" = none
	}{
		{"environment", Broker{Database: url}, secret, secret, ""},
		{"none", Broker{Database: url}, "", "", ""},
		{"sqlite has none", Broker{Database: "/var/lib/tollgate/tollgate.db"}, secret, "", ""},
		{"file 0600, newline dropped", Broker{Database: url, DatabasePasswordFile: file("nl", secret+"\n", 0o600)}, "", secret, ""},
		{"file 0400, CRLF dropped", Broker{Database: url, DatabasePasswordFile: file("crlf", secret+"\r\n", 0o400)}, "", secret, ""},
		{"one newline only", Broker{Database: url, DatabasePasswordFile: file("nl2", secret+"\n\n", 0o600)}, "", secret + "\n", ""},
		{"no newline", Broker{Database: url, DatabasePasswordFile: file("bare", " "+secret+" ", 0o600)}, "", " " + secret + " ", ""},
		{"file wins over the environment", Broker{Database: url, DatabasePasswordFile: file("wins", secret, 0o600)}, "from-env", secret, ""},
		{"symlink to a private file", Broker{Database: url, DatabasePasswordFile: link}, "", secret, ""},
		{"group readable", Broker{Database: url, DatabasePasswordFile: file("g", secret, 0o640)}, "",
			"", filepath.Join(dir, "g") + " has mode 0640: group or others may read or change the password; want 0600 or 0400"},
		{"world readable", Broker{Database: url, DatabasePasswordFile: file("o", secret, 0o604)}, "", "", "has mode 0604"},
		{"group writable", Broker{Database: url, DatabasePasswordFile: file("gw", secret, 0o620)}, "", "", "has mode 0620"},
		{"empty", Broker{Database: url, DatabasePasswordFile: file("empty", "\n", 0o600)}, "", "", filepath.Join(dir, "empty") + " is empty"},
		{"too large", Broker{Database: url, DatabasePasswordFile: file("big", strings.Repeat(secret, 1000), 0o600)}, "", "", "is larger than 4096 bytes"},
		{"a directory", Broker{Database: url, DatabasePasswordFile: dir}, "", "", dir + " is not a regular file"},
		{"missing", Broker{Database: url, DatabasePasswordFile: filepath.Join(dir, "missing")}, "", "", "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvDatabasePassword, tt.env)
			got, err := DatabasePassword(tt.broker)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "broker.database_password_file") {
				t.Fatalf("got %q, %v; want an error naming broker.database_password_file and containing %q", got, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error %q repeats the password", err)
			}
		})
	}
}
