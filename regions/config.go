package regions

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config is the [regions] section: its services ([[regions.service]]).
type Config struct {
	Services []Service `toml:"service"`
}

// Rule is one ingress rule of a service's security group.
type Rule struct {
	Protocol string `toml:"protocol"` // tcp (default), udp, icmp
	FromPort int    `toml:"from_port"`
	ToPort   int    `toml:"to_port"` // default FromPort
	CIDR     string `toml:"cidr"`
}

// Service is one service run in several regions.
type Service struct {
	// Name names the service: lower-case letters, digits and '-'.
	Name string `toml:"name"`
	// HomeRegion holds the image the other regions copy (and is never cleared).
	HomeRegion string `toml:"home_region"`
	// Image is an AMI id, or the name of an image the account owns in the home region.
	Image string `toml:"image"`
	// Regions are where the service runs (the home region is added if missing).
	Regions []string `toml:"regions"`
	// InstanceType of the service instances (default t3.micro).
	InstanceType string `toml:"instance_type"`
	// PublicKeyFile is an SSH public key imported as keypair tollgate-service-NAME.
	PublicKeyFile string `toml:"public_key_file"`
	// SecurityGroup is a group in the home region ("sg-…" or its name) whose ingress is
	// copied into every region; "" uses Rules.
	SecurityGroup string `toml:"security_group"`
	Rules         []Rule `toml:"rule"`
	// InstanceProfile is the IAM instance profile (name or ARN), needed for SSM.
	InstanceProfile string            `toml:"instance_profile"`
	Tags            map[string]string `toml:"tags"`
	// VolumeGB is the root volume size (0 = the image's).
	VolumeGB int `toml:"volume_gb"`
	// Commands are the job, run with AWS-RunShellScript.
	Commands []string `toml:"commands"`
	// Timeout bounds the job (default 30m, NAVO's executionTimeout).
	Timeout time.Duration `toml:"timeout"`
	// Runner is "ssm" (Systems Manager: the image needs its agent and InstanceProfile
	// its permissions) or "ssh" (the job runs over SSH as SSHUser with the key in
	// SSHPrivateKeyFile, the host key pinned from the console output or on first use).
	Runner string `toml:"runner"`
	// SSHUser is the login of the SSH runner (default ec2-user).
	SSHUser string `toml:"ssh_user"`
	// SSHPrivateKeyFile is the private half of PublicKeyFile, read by the daemon for the
	// SSH runner: unencrypted, and readable by its owner only.
	SSHPrivateKeyFile string `toml:"ssh_private_key_file"`
	// SSHPort is the instances' SSH port (default 22).
	SSHPort   int        `toml:"ssh_port"`
	Schedules []Schedule `toml:"schedule"`
	// BudgetUSD is the service's monthly budget: a run whose worst case would cross it
	// is refused (0 = none).
	BudgetUSD float64 `toml:"budget_usd"`
	// Parallel bounds the regions set up at once (default 4).
	Parallel int `toml:"parallel"`
}

var (
	serviceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	regionRE      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	sshUserRE     = regexp.MustCompile(`^[a-z_][a-zA-Z0-9._-]{0,31}$`)
)

// withDefaults fills the defaults.
func (s Service) withDefaults() Service {
	if s.InstanceType == "" {
		s.InstanceType = "t3.micro"
	}
	if s.Timeout == 0 {
		s.Timeout = 30 * time.Minute
	}
	if s.Runner == "" {
		s.Runner = "ssm"
	}
	if s.Runner == "ssh" && s.SSHUser == "" {
		s.SSHUser = "ec2-user"
	}
	if s.SSHPort == 0 {
		s.SSHPort = 22
	}
	if s.Parallel == 0 {
		s.Parallel = 4
	}
	if s.HomeRegion != "" && !slices.Contains(s.Regions, s.HomeRegion) {
		s.Regions = append([]string{s.HomeRegion}, s.Regions...)
	}
	for i := range s.Rules {
		if s.Rules[i].Protocol == "" {
			s.Rules[i].Protocol = "tcp"
		}
		if s.Rules[i].ToPort == 0 {
			s.Rules[i].ToPort = s.Rules[i].FromPort
		}
	}
	return s
}

// Validate checks the services; each error names the service and the key, what was
// wrong and what is allowed.
func (c Config) Validate() []error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range c.Services {
		s = s.withDefaults()
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		bad := func(key, format string, args ...any) {
			errs = append(errs, fmt.Errorf("service %s: %s: %s", name, key, fmt.Sprintf(format, args...)))
		}
		switch {
		case !serviceNameRE.MatchString(s.Name):
			bad("name", "%q: want 1 to 40 lower-case letters, digits and '-'", s.Name)
		case seen[s.Name]:
			bad("name", "%q is used by another service", s.Name)
		}
		seen[s.Name] = true
		if !regionRE.MatchString(s.HomeRegion) {
			bad("home_region", "%q is not a region name such as us-west-2", s.HomeRegion)
		}
		dup := map[string]bool{}
		for _, r := range s.Regions {
			if !regionRE.MatchString(r) {
				bad("regions", "%q is not a region name such as eu-west-3", r)
			}
			if dup[r] {
				bad("regions", "%q is listed twice", r)
			}
			dup[r] = true
		}
		if s.Image == "" {
			bad("image", "unset: an AMI id or the name of an image the account owns in %s", s.HomeRegion)
		}
		if len(s.Commands) == 0 {
			bad("commands", "unset: the job's shell commands")
		}
		if s.Timeout < time.Minute || s.Timeout > 48*time.Hour {
			bad("timeout", "%s: want 1m to 48h", s.Timeout)
		}
		switch s.Runner {
		case "ssm":
		case "ssh":
			if err := checkSSHKeys(s); err != nil {
				bad("ssh_private_key_file", "%v", err)
			}
			if !sshUserRE.MatchString(s.SSHUser) {
				bad("ssh_user", "%q: want a login name (letters, digits, '.', '_', '-')", s.SSHUser)
			}
		default:
			bad("runner", "%q: want \"ssm\" or \"ssh\"", s.Runner)
		}
		if s.SSHPort < 1 || s.SSHPort > 65535 {
			bad("ssh_port", "%d: want 1 to 65535", s.SSHPort)
		}
		if s.SecurityGroup != "" && len(s.Rules) > 0 {
			bad("rule", "set security_group (copied from %s) or rules, not both", s.HomeRegion)
		}
		for _, r := range s.Rules {
			if r.Protocol != "tcp" && r.Protocol != "udp" && r.Protocol != "icmp" {
				bad("rule.protocol", "%q: want tcp, udp or icmp", r.Protocol)
			}
			if r.FromPort < 0 || r.ToPort > 65535 || r.FromPort > r.ToPort {
				bad("rule", "ports %d-%d: want 0 <= from_port <= to_port <= 65535", r.FromPort, r.ToPort)
			}
			if !strings.Contains(r.CIDR, "/") {
				bad("rule.cidr", "%q is not a CIDR", r.CIDR)
			}
		}
		if s.PublicKeyFile != "" {
			if b, err := os.ReadFile(s.PublicKeyFile); err != nil {
				bad("public_key_file", "%v", err)
			} else if _, _, _, _, err := ssh.ParseAuthorizedKey(b); err != nil {
				bad("public_key_file", "%s is not an SSH public key", s.PublicKeyFile)
			}
		}
		if s.BudgetUSD < 0 || s.VolumeGB < 0 || s.Parallel < 0 {
			bad("budget_usd", "budget_usd, volume_gb and parallel must not be negative")
		}
		for j, sc := range s.Schedules {
			if _, err := NewPlan(sc, s.Regions); err != nil {
				bad(fmt.Sprintf("schedule[%d]", j+1), "%v", err)
			}
			for _, r := range sc.Regions {
				if !slices.Contains(s.Regions, r) {
					bad(fmt.Sprintf("schedule[%d].regions", j+1), "%q is not one of the service's regions %v", r, s.Regions)
				}
			}
		}
	}
	return errs
}

// checkSSHKeys checks the SSH runner's keys: the private key file is the daemon's own,
// closed to others, unencrypted, and the private half of PublicKeyFile. Errors never
// quote the key.
func checkSSHKeys(s Service) error {
	if s.SSHPrivateKeyFile == "" {
		return errors.New("unset: the SSH runner needs the private half of public_key_file")
	}
	if s.PublicKeyFile == "" {
		return errors.New("public_key_file is unset: the SSH runner logs in with its keypair")
	}
	signer, err := loadSigner(s.SSHPrivateKeyFile)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(s.PublicKeyFile)
	if err != nil {
		return err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return fmt.Errorf("%s is not an SSH public key", s.PublicKeyFile)
	}
	if !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
		return fmt.Errorf("%s is not the private half of %s", s.SSHPrivateKeyFile, s.PublicKeyFile)
	}
	return nil
}

// loadSigner reads an unencrypted private key from a file readable by its owner only.
func loadSigner(path string) (ssh.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is open to others (mode %04o): want 0600 or 0400", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("%s is encrypted: the daemon needs an unencrypted key (readable by it alone)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not an SSH private key", path)
	}
	return signer, nil
}
