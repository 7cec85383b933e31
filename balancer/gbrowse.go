package balancer

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// GBrowse is what an aws_balancer.conf says, read with GBrowse's own rules.
type GBrowse struct {
	Table           Table
	ExternalIP      string
	PollInterval    time.Duration
	ServerStatusURL string
	InstanceType    string
	SpotBid         float64
	Ports           []int
	Region          string
	ImageID         string
	Subnet          string
	SSHKey          string
	DataSnapshots   []string
	// AvailabilityZone and SecurityGroup are parsed (GBrowse parsed and ignored them).
	AvailabilityZone, SecurityGroup string
	// Warnings are lines GBrowse would have ignored silently (an indented key line, a
	// key it does not know).
	Warnings []string
}

// GBrowse's defaults, from AWS_Balancer.pm.
const (
	gbrowseInstanceType = "m1.large"
	gbrowseSpotBid      = 0.08
	gbrowsePort         = 8101
	gbrowseRegion       = "us-east-1"
	gbrowseStatusURL    = "http://localhost/server-status"
)

var (
	gbrowseSection = regexp.MustCompile(`^\s*\[([^\]]+)\]\s*$`)
	gbrowseKV      = regexp.MustCompile(`^(\S+)\s*=\s*(.+)`)
	gbrowseUnset   = regexp.MustCompile(`^(\S+)\s*=\s*$`)
	gbrowseInline  = regexp.MustCompile(`\s+#.*$`)
)

var gbrowseKeys = map[string][]string{
	"MASTER": {"external_ip", "poll_interval", "server_status_url"},
	"SLAVE": {"instance_type", "spot_bid", "ports", "region", "image_id", "data_snapshots", "subnet",
		"ssh_key", "availability_zone", "security_group"},
}

// ParseGBrowse reads an aws_balancer.conf as gbrowse_aws_balancer.pl does: `[NAME]`
// sections (upper-cased), `#` comment and blank lines skipped, an inline ` # …` comment
// stripped, `key = value` lines (an empty value is unset), LOAD TABLE rows of three
// numbers. Errors name filename:line, what was wrong and what is allowed.
func ParseGBrowse(r io.Reader, filename string) (GBrowse, error) {
	g := GBrowse{InstanceType: gbrowseInstanceType, SpotBid: gbrowseSpotBid, Ports: []int{gbrowsePort},
		Region: gbrowseRegion, ServerStatusURL: gbrowseStatusURL, PollInterval: 30 * time.Second}
	var rows []Row
	section := ""
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	fail := func(format string, args ...any) (GBrowse, error) {
		return GBrowse{}, fmt.Errorf("%s:%d: %s", filename, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		text = gbrowseInline.ReplaceAllString(text, "")
		if m := gbrowseSection.FindStringSubmatch(text); m != nil {
			section = strings.ToUpper(strings.TrimSpace(m[1]))
			seen[section] = true
			continue
		}
		switch section {
		case "":
			return fail("%q before any [SECTION] header: the file starts with [LOAD TABLE], [MASTER] or [SLAVE]", trimmed)
		case "LOAD TABLE":
			f := strings.Fields(text)
			if len(f) != 3 {
				return fail("load table row %q: want three numbers: requests/s, min slaves, max slaves", trimmed)
			}
			load, err1 := strconv.ParseFloat(f[0], 64)
			lo, err2 := strconv.Atoi(f[1])
			hi, err3 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil || err3 != nil || load < 0 || lo < 0 || hi < lo {
				return fail("load table row %q: want requests/s >= 0, then whole numbers min <= max", trimmed)
			}
			rows = append(rows, Row{Load: load, Min: lo, Max: hi})
			continue
		}
		m := gbrowseKV.FindStringSubmatch(text)
		if m == nil {
			if u := gbrowseUnset.FindStringSubmatch(text); u != nil {
				m = []string{text, u[1], ""}
			}
		}
		if m == nil {
			g.Warnings = append(g.Warnings, fmt.Sprintf("%s:%d: %q is not a key = value line (GBrowse ignores it)", filename, line, trimmed))
			continue
		}
		key, val := m[1], strings.TrimSpace(m[2])
		known, ok := gbrowseKeys[section]
		if !ok {
			g.Warnings = append(g.Warnings, fmt.Sprintf("%s:%d: section [%s] is not one GBrowse reads (LOAD TABLE, MASTER, SLAVE)", filename, line, section))
			continue
		}
		if !contains(known, key) {
			g.Warnings = append(g.Warnings, fmt.Sprintf("%s:%d: [%s] %s is not a GBrowse key (known: %s)", filename, line, section, key, strings.Join(known, ", ")))
			continue
		}
		if val == "" {
			continue
		}
		switch key {
		case "external_ip":
			g.ExternalIP = val
		case "poll_interval":
			min, err := strconv.ParseFloat(val, 64)
			if err != nil || min <= 0 || min > 24*60 {
				return fail("poll_interval %q: want minutes, a number above 0 (GBrowse suggests 0.5)", val)
			}
			g.PollInterval = time.Duration(min * float64(time.Minute)).Round(time.Second)
		case "server_status_url":
			g.ServerStatusURL = val
		case "instance_type":
			g.InstanceType = val
		case "spot_bid":
			bid, err := strconv.ParseFloat(val, 64)
			if err != nil || bid < 0 {
				return fail("spot_bid %q: want US dollars per hour, e.g. 0.10", val)
			}
			g.SpotBid = bid
		case "ports":
			g.Ports = nil
			for _, f := range strings.Fields(val) {
				p, err := strconv.Atoi(f)
				if err != nil || p < 1 || p > 65535 {
					return fail("ports %q: want space-separated TCP ports from 1 to 65535", val)
				}
				g.Ports = append(g.Ports, p)
			}
		case "region":
			g.Region = val
		case "image_id":
			g.ImageID = val
		case "data_snapshots":
			g.DataSnapshots = strings.Fields(val)
		case "subnet":
			g.Subnet = val
		case "ssh_key":
			g.SSHKey = val
		case "availability_zone":
			g.AvailabilityZone = val
		case "security_group":
			g.SecurityGroup = val
		}
	}
	if err := sc.Err(); err != nil {
		return GBrowse{}, fmt.Errorf("%s: %w", filename, err)
	}
	line = 0
	for _, s := range []string{"LOAD TABLE", "SLAVE"} {
		if !seen[s] {
			return GBrowse{}, fmt.Errorf("%s: no [%s] section: GBrowse requires [LOAD TABLE] and [SLAVE]", filename, s)
		}
	}
	if len(rows) == 0 {
		g.Table = DefaultTable()
	} else {
		t, err := NewTable(rows)
		if err != nil {
			return GBrowse{}, fmt.Errorf("%s: [LOAD TABLE]: %w", filename, err)
		}
		g.Table = t
	}
	return g, nil
}

// LoadGBrowse reads the aws_balancer.conf at path.
func LoadGBrowse(path string) (GBrowse, error) {
	f, err := os.Open(path)
	if err != nil {
		return GBrowse{}, err
	}
	defer f.Close()
	return ParseGBrowse(f, path)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
