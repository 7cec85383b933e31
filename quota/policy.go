package quota

import (
	"errors"
	"fmt"
	"math"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// VolumeTypes are the EBS volume types a policy may name.
var VolumeTypes = []string{"gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"}

// amiID matches an EC2 image id (8 or 17 hex digits).
var amiID = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)

// ownerID matches an AWS account id.
var ownerID = regexp.MustCompile(`^[0-9]{12}$`)

// ImageOwnerAliases are the owner names EC2's DescribeImages Owners accepts besides
// account ids.
var ImageOwnerAliases = []string{"self", "amazon", "aws-marketplace"}

// DefaultImageOwners is the image_owners of a policy that sets none: the account's own
// images and Amazon's.
var DefaultImageOwners = []string{"self", "amazon"}

func validImageOwner(s string) bool {
	return slices.Contains(ImageOwnerAliases, s) || ownerID.MatchString(s)
}

// Owners is p.ImageOwners, or DefaultImageOwners if it is empty: what every image lookup
// passes as DescribeImages' Owners.
func (p Policy) Owners() []string {
	if len(p.ImageOwners) == 0 {
		return slices.Clone(DefaultImageOwners)
	}
	return slices.Clone(p.ImageOwners)
}

// IsAMIID reports whether s is an EC2 image id ("ami-0123456789abcdef0") rather than an
// image-name pattern.
func IsAMIID(s string) bool { return amiID.MatchString(s) }

// FieldError is a problem with one policy key. Key is the policy key as written in the
// configuration ("max_lifetime"); for a check between two keys, Related names the other
// one, so a caller that knows where keys were written can point at whichever it has.
type FieldError struct {
	Key     string
	Related string
	Message string
}

// Error returns "key: message".
func (e *FieldError) Error() string { return e.Key + ": " + e.Message }

// Merge overlays o on p: every non-nil field of o replaces p's value (a non-nil empty
// list replaces p's list with an empty one). Lists are copied, so the result shares no
// backing arrays with p or o. It goes by field name, so a key added to Policy and
// Override is merged without a line here.
func Merge(p Policy, o Override) Policy {
	pv, ov := reflect.ValueOf(&p).Elem(), reflect.ValueOf(o)
	for i := range pv.NumField() {
		if f := pv.Field(i); f.Kind() == reflect.Slice && !f.IsNil() {
			f.Set(cloneSlice(f))
		}
	}
	for _, m := range overrideFields {
		src := ov.Field(m.override)
		switch {
		case src.IsNil():
		case src.Kind() == reflect.Pointer:
			pv.Field(m.policy).Set(src.Elem())
		default:
			pv.Field(m.policy).Set(cloneSlice(src))
		}
	}
	return p
}

func cloneSlice(s reflect.Value) reflect.Value {
	return reflect.AppendSlice(reflect.MakeSlice(s.Type(), 0, s.Len()), s)
}

// overrideFields pairs each field of Override with the Policy field of the same name.
// An Override field is a pointer to the Policy field's type, or the same list type; a
// mismatch is a programming error caught by any test that loads the package.
var overrideFields = func() []struct{ override, policy int } {
	var out []struct{ override, policy int }
	pt, ot := reflect.TypeFor[Policy](), reflect.TypeFor[Override]()
	for i := range ot.NumField() {
		of := ot.Field(i)
		pf, ok := pt.FieldByName(of.Name)
		if !ok || !(of.Type.Kind() == reflect.Pointer && of.Type.Elem() == pf.Type ||
			of.Type.Kind() == reflect.Slice && of.Type == pf.Type) {
			panic(fmt.Sprintf("quota: Override.%s %s has no matching Policy field", of.Name, of.Type))
		}
		out = append(out, struct{ override, policy int }{i, pf.Index[0]})
	}
	return out
}()

// Effective returns a user's effective policy: def, overlaid by each group override in
// the order given (later wins), overlaid by the per-user override if it is not nil.
func Effective(def Policy, groups []Override, user *Override) Policy {
	p := Merge(def, Override{})
	for _, g := range groups {
		p = Merge(p, g)
	}
	if user != nil {
		p = Merge(p, *user)
	}
	return p
}

// Validate checks that p is coherent: limits are not negative, lifetimes are whole
// minutes of at least 1m and default_lifetime ≤ max_lifetime, the lists a user chooses
// from are non-empty and hold valid patterns, and actions, period, spot and volume type
// are known values. It reports every problem: the error is a *FieldError, or several
// joined with errors.Join, each naming its key.
func (p Policy) Validate() error {
	var errs []error
	bad := func(key, related, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Related: related, Message: fmt.Sprintf(format, args...)})
	}
	nonNegative := func(key string, v int) {
		if v < 0 {
			bad(key, "", "%d is negative (use 0 or more)", v)
		}
	}
	nonNegative("max_instances", p.MaxInstances)
	nonNegative("max_vcpus", p.MaxVCPUs)
	nonNegative("max_count", p.MaxCount)
	nonNegative("volume_size_gb", p.VolumeSizeGB)

	list := func(key string, vs []string, isPattern bool) {
		if len(vs) == 0 {
			bad(key, "", "is empty: list at least one value users may choose")
			return
		}
		for _, v := range vs {
			switch {
			case strings.TrimSpace(v) == "":
				bad(key, "", "holds an empty value")
			case isPattern:
				if _, err := path.Match(v, ""); err != nil {
					bad(key, "", "%q is not a valid pattern (use * and ? as in t3.* or ubuntu/*jammy*)", v)
				}
			}
		}
	}
	list("instance_types", p.InstanceTypes, true)
	list("images", p.Images, true)
	list("regions", p.Regions, false)
	for _, o := range p.ImageOwners {
		if !validImageOwner(o) {
			bad("image_owners", "", "%q is not an image owner: use self, amazon, aws-marketplace or a 12-digit account id", o)
		}
	}

	lifetime := func(key string, d time.Duration) bool {
		switch {
		case d < time.Minute:
			bad(key, "", "%s is shorter than 1m", FormatDuration(d))
		case d%time.Minute != 0:
			bad(key, "", "%s is not whole minutes", FormatDuration(d))
		default:
			return true
		}
		return false
	}
	okDefault := lifetime("default_lifetime", p.DefaultLifetime)
	okMax := lifetime("max_lifetime", p.MaxLifetime)
	if okDefault && okMax && p.DefaultLifetime > p.MaxLifetime {
		bad("default_lifetime", "max_lifetime", "%s is longer than max_lifetime %s",
			FormatDuration(p.DefaultLifetime), FormatDuration(p.MaxLifetime))
	}
	switch {
	case p.ExpireWarning < 0:
		bad("expire_warning", "", "%s is negative (use 0 for no warning)", FormatDuration(p.ExpireWarning))
	case p.ExpireWarning%time.Minute != 0:
		bad("expire_warning", "", "%s is not whole minutes", FormatDuration(p.ExpireWarning))
	}

	if math.IsNaN(p.BudgetUSD) || math.IsInf(p.BudgetUSD, 0) || p.BudgetUSD < 0 {
		bad("budget_usd", "", "%v is not an amount of dollars (use 0 for no budget)", p.BudgetUSD)
	}

	oneOf := func(key, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			bad(key, "", "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	oneOf("expire_action", p.ExpireAction, ActionStop, ActionTerminate)
	oneOf("budget_action", p.BudgetAction, ActionStop, ActionTerminate, ActionNotify)
	oneOf("budget_period", p.BudgetPeriod, PeriodTerm, PeriodMonth, PeriodWeek)
	oneOf("spot", p.Spot, SpotAllowed, SpotRequired, SpotForbidden)
	if p.VolumeType != "" {
		oneOf("volume_type", p.VolumeType, VolumeTypes...)
	}
	for _, sg := range p.SecurityGroups {
		if strings.TrimSpace(sg) == "" {
			bad("security_groups", "", "holds an empty value")
		}
	}
	return errors.Join(errs...)
}
