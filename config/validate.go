package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/tollgate/tollgate/quota"
)

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	iamNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]+$`)
	// policyARNRE is a customer managed policy ARN in any partition: account id, an
	// optional path, a policy name.
	policyARNRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:policy/([\x21-\x7e]*/)?[A-Za-z0-9+=,.@_-]{1,128}$`)
)

// dateLayout is how term dates are written.
const dateLayout = "2006-01-02"

// Validate checks the whole configuration and reports every problem, each naming the
// file, the line and the key (the line is known for configurations read by Load or
// Parse). The error is an *Error or several joined with errors.Join.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.broker()
	v.aws()
	v.policies()
	v.accounting()
	v.iam()
	v.balancer()
	for _, e := range v.c.Regions.Validate() {
		v.add([]string{"regions", "service"}, "%v", e)
	}
	return joinErrors(v.errs)
}

type validator struct {
	c    *Config
	errs []*Error
}

// line returns the line of key path parts in the file, or of its nearest enclosing table
// that is written there, or 0.
func (v *validator) line(parts ...string) int {
	for n := len(parts); n > 0; n-- {
		if l, ok := v.c.lines[keyString(parts[:n])]; ok {
			return l
		}
	}
	return 0
}

// written reports whether the file sets key path parts.
func (v *validator) written(parts ...string) bool {
	_, ok := v.c.lines[keyString(parts)]
	return ok
}

func (v *validator) add(parts []string, format string, args ...any) {
	v.addAt(v.line(parts...), parts, format, args...)
}

func (v *validator) addAt(line int, parts []string, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.c.Path, Line: line, Key: keyString(parts), Message: fmt.Sprintf(format, args...)})
}

func (v *validator) absPath(parts []string, p string) {
	if !filepath.IsAbs(p) {
		v.add(parts, "%q is not an absolute path", p)
	}
}

// groupName checks a Unix group name loosely: NSS (LDAP, SSSD) allows more than POSIX's
// portable set, but never separators or blanks.
func (v *validator) groupName(parts []string, g string) {
	switch {
	case g == "":
		v.add(parts, "a group name is empty")
	case strings.ContainsAny(g, ":,/") || strings.IndexFunc(g, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		v.add(parts, "%q is not a group name", g)
	}
}

func (v *validator) broker() {
	b := v.c.Broker
	v.absPath([]string{"broker", "socket"}, b.Socket)
	v.checkDatabase(b)
	v.groupName([]string{"broker", "admin_group"}, b.AdminGroup)
	for _, g := range b.EnrollGroups {
		v.groupName([]string{"broker", "enroll_groups"}, g)
	}
	if b.SocketMode > 0o777 {
		v.add([]string{"broker", "socket_mode"}, "%#o is not a permission mode (use e.g. 0o666 or 0o660)", b.SocketMode)
	}
	if b.AuditRefusalRetention < 0 {
		v.add([]string{"broker", "audit_refusal_retention"}, "%s is negative: give a duration, or 0 to keep refusals forever", b.AuditRefusalRetention)
	}
	if b.ReconcileInterval < time.Second {
		v.add([]string{"broker", "reconcile_interval"}, "%s is shorter than 1s", b.ReconcileInterval)
	}
	if !slices.Contains([]string{"", "debug", "info", "warn", "error"}, b.LogLevel) {
		v.add([]string{"broker", "log_level"}, "%q is not one of debug, info, warn, error", b.LogLevel)
	}
}

// loopbackHost reports whether host is localhost or a loopback address (127.0.0.0/8,
// ::1): the only hosts plain http may reach.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func (v *validator) aws() {
	a := v.c.AWS
	key := []string{"aws", "regions"}
	if len(a.Regions) == 0 {
		v.add(key, `is empty: list the regions to use, e.g. ["us-west-2"]`)
	}
	for i, r := range a.Regions {
		switch {
		case !regionRE.MatchString(r):
			v.add(key, "%q is not an AWS region name (e.g. us-west-2)", r)
		case slices.Contains(a.Regions[:i], r):
			v.add(key, "%q is listed twice", r)
		}
	}
	if a.EndpointURL != "" {
		key := []string{"aws", "endpoint_url"}
		u, err := url.Parse(a.EndpointURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.add(key, "%q is not an http or https URL (e.g. http://127.0.0.1:4566)", a.EndpointURL)
		case u.User != nil:
			v.add(key, "must not hold credentials: %s", credentialHint)
		case u.Scheme == "http" && !loopbackHost(u.Hostname()):
			// IAM access keys (student secrets) and STS calls would cross the network in
			// clear text.
			v.add(key, "%q is plain http to a host that is not loopback: use https, or http only to 127.0.0.1, ::1 or localhost", a.EndpointURL)
		}
	}
	if math.IsNaN(a.RunInstancesPerSecond) || math.IsInf(a.RunInstancesPerSecond, 0) || a.RunInstancesPerSecond <= 0 {
		v.add([]string{"aws", "run_instances_per_second"}, "%v is not a positive rate", a.RunInstancesPerSecond)
	}
	if a.RunInstancesBurst < 1 {
		v.add([]string{"aws", "run_instances_burst"}, "%d is less than 1", a.RunInstancesBurst)
	}
}

func (v *validator) policies() {
	def := v.c.Policy.Default
	base := []string{"policy", "default"}
	defErrs := fieldErrors(def.Validate())
	for _, fe := range defErrs {
		key := append(slices.Clone(base), fe.Key)
		if fe.Key == "regions" && !v.written(key...) && len(v.c.AWS.Regions) == 0 {
			continue // inherited from aws.regions, which is reported already
		}
		line := v.line(key...)
		if !v.written(key...) && fe.Related != "" && v.written(append(slices.Clone(base), fe.Related)...) {
			line = v.line(append(slices.Clone(base), fe.Related)...)
		}
		v.addAt(line, key, "%s", fe.Message)
	}
	v.regionsScanned(base, def.Regions)

	for _, g := range v.c.groupOrder() {
		gk := []string{"policy", "group", g}
		v.groupName(gk, g)
		o := v.c.Policy.Group[g]
		merged := quota.Merge(def, o)
		for _, fe := range fieldErrors(merged.Validate()) {
			if slices.ContainsFunc(defErrs, func(d *quota.FieldError) bool { return *d == *fe }) {
				continue // already reported for policy.default
			}
			key := append(slices.Clone(gk), fe.Key)
			switch {
			case v.written(key...):
				v.add(key, "%s", fe.Message)
			case fe.Related != "" && v.written(append(slices.Clone(gk), fe.Related)...):
				rk := append(slices.Clone(gk), fe.Related)
				v.add(rk, "%s %s (%s from policy.default)", fe.Key, fe.Message, fe.Key)
			default:
				v.add(key, "%s (from policy.default, applied under this group)", fe.Message)
			}
		}
		if o.Regions != nil {
			v.regionsScanned(gk, o.Regions)
		}
	}
}

// regionsScanned checks that a policy allows only regions the collector scans: an
// instance in another region would never be accounted for.
func (v *validator) regionsScanned(base []string, regions []string) {
	for _, r := range regions {
		if r != "" && !slices.Contains(v.c.AWS.Regions, r) {
			v.add(append(slices.Clone(base), "regions"), "%q is not in aws.regions (%s): the collector would never see its instances",
				r, strings.Join(v.c.AWS.Regions, ", "))
		}
	}
}

func fieldErrors(err error) []*quota.FieldError {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []*quota.FieldError
	for _, e := range list {
		var fe *quota.FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
		} else {
			out = append(out, &quota.FieldError{Message: e.Error()})
		}
	}
	return out
}

func (v *validator) accounting() {
	a := v.c.Accounting
	if a.CollectInterval < 0 {
		v.add([]string{"accounting", "collect_interval"}, "%s is negative (use 0 to disable the collector)", a.CollectInterval)
	}
	parse := func(name, s string) (time.Time, bool) {
		if s == "" {
			return time.Time{}, false
		}
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			v.add([]string{"accounting", name}, "%q is not a date YYYY-MM-DD", s)
			return time.Time{}, false
		}
		return t, true
	}
	start, okStart := parse("term_start", a.TermStart)
	end, okEnd := parse("term_end", a.TermEnd)
	if okStart && okEnd && !start.Before(end) {
		v.add([]string{"accounting", "term_end"}, "%s is not after term_start %s", a.TermEnd, a.TermStart)
	}
	if where := v.termPolicy(); where != nil {
		for _, name := range []string{"term_start", "term_end"} {
			key := []string{"accounting", name}
			if (name == "term_start" && a.TermStart == "") || (name == "term_end" && a.TermEnd == "") {
				line := v.line(key...)
				if !v.written(key...) {
					line = v.line(where...)
				}
				v.addAt(line, key, "is not set but %s is %q (set it to a date YYYY-MM-DD)", keyString(where), quota.PeriodTerm)
			}
		}
	}
	for k, p := range a.Prices {
		key := []string{"accounting", "prices", k}
		typ, region, ok := strings.Cut(k, "/")
		if !ok || typ == "" || region == "" || strings.Contains(region, "/") {
			v.add(key, `is not "type/region" (e.g. "t3.micro/us-west-2")`)
		}
		if math.IsNaN(p) || math.IsInf(p, 0) || p < 0 {
			v.add(key, "%v is not a price in USD per hour", p)
		}
	}
	for k, p := range a.VolumePrices {
		key := []string{"accounting", "volume_prices", k}
		if !slices.Contains(quota.VolumeTypes, k) {
			v.add(key, "%q is not a volume type (%s)", k, strings.Join(quota.VolumeTypes, ", "))
		}
		if math.IsNaN(p) || math.IsInf(p, 0) || p < 0 {
			v.add(key, "%v is not a price in USD per GB-month", p)
		}
	}
	if len(a.MailCommand) > 0 && !filepath.IsAbs(a.MailCommand[0]) {
		v.add([]string{"accounting", "mail_command"}, "%q is not an absolute path (e.g. /usr/sbin/sendmail)", a.MailCommand[0])
	}
	if strings.ContainsAny(a.MailDomain, "@ \t\r\n") {
		v.add([]string{"accounting", "mail_domain"}, "%q is not a domain (write example.edu, not user@example.edu)", a.MailDomain)
	}
}

// termPolicy returns the key of the first policy whose budget_period is "term", or nil.
func (v *validator) termPolicy() []string {
	def := v.c.Policy.Default
	if def.BudgetPeriod == quota.PeriodTerm {
		return []string{"policy", "default", "budget_period"}
	}
	for _, g := range v.c.groupOrder() {
		if quota.Merge(def, v.c.Policy.Group[g]).BudgetPeriod == quota.PeriodTerm {
			return []string{"policy", "group", g, "budget_period"}
		}
	}
	return nil
}

func (v *validator) iam() {
	i := v.c.IAM
	key := []string{"iam", "user_name_pattern"}
	switch {
	case !strings.Contains(i.UserNamePattern, "{user}"):
		v.add(key, "%q does not contain {user}", i.UserNamePattern)
	case !iamNameRE.MatchString(strings.ReplaceAll(i.UserNamePattern, "{user}", "u")):
		v.add(key, "%q holds characters IAM user names cannot (use letters, digits and +=,.@_-)", i.UserNamePattern)
	case len(strings.ReplaceAll(i.UserNamePattern, "{user}", strings.Repeat("u", 32))) > 64:
		v.add(key, "%q gives names longer than IAM's 64 characters for a 32-character user name", i.UserNamePattern)
	}
	if p := i.Path; !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || len(p) > 512 ||
		strings.IndexFunc(p, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		v.add([]string{"iam", "path"}, "%q is not an IAM path (it starts and ends with /, e.g. /tollgate/)", p)
	}
	if n := i.PolicyName; !iamNameRE.MatchString(n) || len(n) > 128 {
		v.add([]string{"iam", "policy_name"}, "%q is not an IAM policy name (1 to 128 of letters, digits and +=,.@_-)", n)
	}
	if i.PropagationTimeout < time.Second {
		v.add([]string{"iam", "propagation_timeout"}, "%s is shorter than 1s", i.PropagationTimeout)
	}
	if b := i.PermissionsBoundary; b != "" && (!policyARNRE.MatchString(b) || len(b) > 2048) {
		v.add([]string{"iam", "permissions_boundary"}, "%q is not an IAM policy ARN (e.g. arn:aws:iam::123456789012:policy/tollgate-student-boundary)", b)
	}
}

// balancer checks the pools as the daemon will run them: each gbrowse_conf read, the
// defaults applied.
func (v *validator) balancer() {
	if len(v.c.Balancer.Pools) == 0 {
		return
	}
	if _, err := v.c.Balancer.Resolved(); err != nil {
		for _, e := range unjoin(err) {
			v.add([]string{"balancer", "pool"}, "%v", e)
		}
	}
}

// unjoin lists the errors errors.Join put together.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
