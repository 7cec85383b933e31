package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/tollgate/tollgate/quota"
)

// Error is one problem in a configuration file. Its text is "file:line: key: message",
// the position of the key in the file; Line is 0 when the key is not written in the file
// (a default or a configuration built in code) and Key is "" for a syntax error that
// belongs to no key. Load, Parse and Validate return one *Error, or several joined with
// errors.Join (one per line of the error's text).
type Error struct {
	File    string
	Line    int
	Key     string // dotted key path, e.g. policy.default.max_lifetime
	Message string
}

// Error returns "file:line: key: message".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Load reads the configuration file at path, fills defaults for what it does not set and
// validates the result.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a configuration from data, fills defaults for what it does not set and
// validates the result. name is the file name used in errors and stored in Config.Path.
//
// Keys the file sets keep their value even when it is zero (collect_interval = "0"
// disables the collector, budget_usd = 0 means no budget); keys it does not set take
// their defaults (see Default). policy.default.regions defaults to aws.regions.
func Parse(name string, data []byte) (*Config, error) {
	if name == "" {
		name = "config"
	}
	// The decoder keeps sub-slices of data in its errors; a private copy keeps them valid
	// and keeps the caller's buffer out of reach.
	data = bytes.Clone(data)

	sc := scanDocument(data)
	for _, early := range [][]*Error{sc.creds, sc.types} {
		if len(early) > 0 {
			for _, e := range early {
				e.File = name
			}
			return nil, joinErrors(early)
		}
	}

	fc := newFileConfig()
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(fc); err != nil {
		return nil, sc.completeKeys(decodeErrors(name, err))
	}
	if sc.err != nil {
		// The decoder accepted what the scanner did not: report the scanner's view.
		return nil, &Error{File: name, Line: sc.errLine, Message: sc.err.Error()}
	}

	c, errs := fc.config(sc)
	if len(errs) > 0 {
		for _, e := range errs {
			e.File = name
		}
		return nil, joinErrors(errs)
	}
	c.Path = name
	c.lines = sc.lines
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// joinErrors sorts errors by line and joins them.
func joinErrors(list []*Error) error {
	if len(list) == 0 {
		return nil
	}
	// By line; errors about keys not written in the file (line 0) come last.
	sort.SliceStable(list, func(i, j int) bool {
		li, lj := list[i].Line, list[j].Line
		if li == 0 {
			li = math.MaxInt
		}
		if lj == 0 {
			lj = math.MaxInt
		}
		return li < lj
	})
	if len(list) == 1 {
		return list[0]
	}
	errs := make([]error, len(list))
	for i, e := range list {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// decodeErrors turns go-toml's errors into *Error values naming file, line and key.
func decodeErrors(name string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var list []*Error
		for i := range strict.Errors {
			de := &strict.Errors[i]
			line, _ := de.Position()
			key := []string(de.Key())
			what := "unknown key"
			if strings.Contains(de.Error(), "table") {
				what = "unknown table"
			}
			if known := knownKeys(key); len(known) > 0 {
				what += " (known keys here: " + strings.Join(known, ", ") + ")"
			}
			list = append(list, &Error{File: name, Line: line, Key: keyString(key), Message: what})
		}
		return joinErrors(list)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		return &Error{File: name, Line: line, Key: keyString(de.Key()), Message: friendlyMessage(de.Error())}
	}
	return &Error{File: name, Message: err.Error()}
}

// friendlyMessage rewrites go-toml's type-mismatch messages ("cannot decode TOML string
// into struct field ... of type int") into what a person editing the file needs.
func friendlyMessage(msg string) string {
	msg = strings.TrimPrefix(msg, "toml: ")
	rest, ok := strings.CutPrefix(msg, "cannot decode TOML ")
	if !ok {
		return msg
	}
	got, target, ok := strings.Cut(rest, " into ")
	if !ok {
		return msg
	}
	if i := strings.LastIndex(target, " of type "); i >= 0 {
		target = target[i+len(" of type "):]
	}
	want := map[string]string{
		"int": "an integer", "*int": "an integer", "uint32": "an integer", "config.fileMode": "an integer such as 0o660",
		"float64": "a number", "*float64": "a number",
		"string": "a string", "*string": "a string",
		"[]string":        "a list of strings",
		"config.duration": `a duration string such as "4h"`, "*config.duration": `a duration string such as "4h"`,
		"config.interval":    `a duration string such as "5m"`,
		"map[string]float64": "a table of numbers",
	}[target]
	if want == "" {
		switch {
		case strings.HasPrefix(target, "map[") || strings.HasPrefix(target, "config.") || strings.HasPrefix(target, "struct"):
			want = "a table"
		default:
			return msg
		}
	}
	return fmt.Sprintf("expected %s, got a TOML %s", want, got)
}

// completeKeys gives go-toml's errors that name a key relative to its table (duplicate
// keys: "socket" for broker.socket) the full path, found by the error's line.
func (sc *scan) completeKeys(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Key == "" || e.Line == 0 {
		return err
	}
	best := e.Key
	for _, k := range sc.atLine[e.Line] {
		if strings.HasSuffix(k, "."+e.Key) && len(k) > len(best) {
			best = k
		}
	}
	e.Key = best
	return err
}

// keyString prints a key path the way it would be written in TOML: parts joined by dots,
// quoted when they are not bare keys.
func keyString(parts []string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p
		if p == "" || strings.IndexFunc(p, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) >= 0 {
			out[i] = strconv.Quote(p)
		}
	}
	return strings.Join(out, ".")
}

// knownKeys lists the keys the table holding key accepts, for "unknown key" errors.
func knownKeys(key []string) []string {
	if len(key) == 0 {
		return nil
	}
	t := reflect.TypeOf(fileConfig{})
	for _, part := range key[:len(key)-1] {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(t, part)
			if !ok {
				return nil
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		if tag := tagName(t.Field(i)); tag != "" {
			keys = append(keys, tag)
		}
	}
	return keys
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if tagName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func tagName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	return tag
}

// credentialKeys are key names that would put a secret in the file. The daemon's
// credentials come only from the AWS SDK's standard chain.
var credentialKeys = []string{
	"access_key_id", "aws_access_key_id", "secret_access_key", "aws_secret_access_key",
	"session_token", "aws_session_token", "access_key", "secret_key", "ec2_access_key",
	"ec2_secret_key", "credentials", "secret", "password",
}

const credentialHint = "credentials are never read from the configuration file: " +
	"the daemon takes them from the AWS SDK's standard chain (environment variables such as AWS_PROFILE or " +
	"AWS_ACCESS_KEY_ID, a shared config profile named by aws.profile, or the instance role); remove this key"

func isCredentialKey(name string) bool {
	name = strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	return slices.Contains(credentialKeys, name)
}

// scan is what scanDocument learns from the document's syntax: where each key is and the
// order of the [policy.group.*] tables.
type scan struct {
	lines   map[string]int // keyString(path) → line of its first appearance
	atLine  map[int][]string
	groups  []string // policy.group names in order of appearance
	creds   []*Error // credential keys, refused before decoding
	types   []*Error // durations written as numbers, which the decoder cannot place
	err     error    // a syntax error, if any
	errLine int
}

// scanDocument walks the document with go-toml's unstable parser to map every key path
// (tables, dotted keys and inline tables alike) to its line.
func scanDocument(data []byte) (sc *scan) {
	sc = &scan{lines: map[string]int{}, atLine: map[int][]string{}}
	defer func() {
		// The scan only adds positions to errors: a parser panic on hostile input must
		// not take down the caller, and the decoder reports the syntax error itself.
		if r := recover(); r != nil {
			sc.err = fmt.Errorf("cannot read the document: %v", r)
		}
	}()
	var p unstable.Parser
	p.Reset(data)
	// Line starts, for finding a key's line by binary search (Parser.Shape counts from
	// the start of the document each time, which is quadratic in big files).
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	lineOf := func(offset int) int {
		i, found := slices.BinarySearch(starts, offset)
		if found {
			return i + 1
		}
		return i
	}
	var table []string
	seenGroup := map[string]bool{}
	record := func(path []string, line int) {
		var k strings.Builder
		for i, part := range path {
			if i > 0 {
				k.WriteByte('.')
			}
			k.WriteString(keyString([]string{part}))
			if _, ok := sc.lines[k.String()]; !ok {
				sc.lines[k.String()] = line
			}
		}
		sc.atLine[line] = append(sc.atLine[line], k.String())
		if len(path) >= 3 && path[0] == "policy" && path[1] == "group" && !seenGroup[path[2]] {
			seenGroup[path[2]] = true
			sc.groups = append(sc.groups, path[2])
		}
	}
	var keyValue func(prefix []string, kv *unstable.Node)
	keyValue = func(prefix []string, kv *unstable.Node) {
		parts, line := keyParts(kv, lineOf)
		path := append(slices.Clone(prefix), parts...)
		record(path, line)
		if len(parts) > 0 && isCredentialKey(parts[len(parts)-1]) {
			sc.creds = append(sc.creds, &Error{Line: line, Key: keyString(path), Message: credentialHint})
		}
		if v := kv.Value(); v != nil && v.Kind != unstable.String && isDurationKey(path) {
			sc.types = append(sc.types, &Error{Line: line, Key: keyString(path),
				Message: fmt.Sprintf("expected a duration string such as \"4h\", got a TOML %s", kindName(v.Kind))})
		}
		if v := kv.Value(); v != nil && v.Kind == unstable.InlineTable {
			it := v.Children()
			for it.Next() {
				if n := it.Node(); n.Kind == unstable.KeyValue {
					keyValue(path, n)
				}
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, line := keyParts(e, lineOf)
			table = parts
			record(table, line)
			if isDurationKey(parts) {
				sc.types = append(sc.types, &Error{Line: line, Key: keyString(parts),
					Message: "expected a duration string such as \"4h\", got a TOML table"})
			}
			for i, part := range parts {
				if isCredentialKey(part) {
					sc.creds = append(sc.creds, &Error{Line: line, Key: keyString(parts[:i+1]), Message: credentialHint})
					break
				}
			}
		case unstable.KeyValue:
			keyValue(table, e)
		}
	}
	if err := p.Error(); err != nil {
		sc.err = err
		var perr *unstable.ParserError
		if errors.As(err, &perr) && perr.Highlight != nil {
			off := cap(data) - cap(perr.Highlight)
			if off >= 0 && off <= len(data) {
				sc.errLine = 1 + bytes.Count(data[:off], []byte("\n"))
			}
		}
	}
	return sc
}

// isDurationKey reports whether path is a key the file writes as a duration string.
// go-toml hands a number for such a key to UnmarshalText without a position, so the scan
// catches it first.
func isDurationKey(path []string) bool {
	switch len(path) {
	case 2:
		k := path[0] + "." + path[1]
		return k == "broker.reconcile_interval" || k == "accounting.collect_interval" || k == "iam.propagation_timeout"
	case 3, 4:
		if path[0] != "policy" || (len(path) == 3) != (path[1] == "default") || (len(path) == 4 && path[1] != "group") {
			return false
		}
		return slices.Contains([]string{"default_lifetime", "max_lifetime", "expire_warning"}, path[len(path)-1])
	}
	return false
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.Integer:
		return "integer"
	case unstable.Float:
		return "float"
	case unstable.Bool:
		return "boolean"
	case unstable.Array:
		return "array"
	case unstable.InlineTable:
		return "table"
	default:
		return "date or time"
	}
}

// keyParts returns the parts of a table's or key-value's key and the line it starts on.
func keyParts(n *unstable.Node, lineOf func(offset int) int) ([]string, int) {
	var parts []string
	line := 0
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = lineOf(int(k.Raw.Offset))
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
}

// duration is a lease duration in the file: a string such as "4h", read with
// quota.ParseDuration (whole minutes).
// It is a struct so that go-toml hands a bare integer to UnmarshalText too, instead of
// storing it as nanoseconds.
type duration struct{ d time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *duration) UnmarshalText(b []byte) error {
	v, err := quota.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.d = v
	return nil
}

// interval is an operational interval or timeout in the file ("5m", "30s"): unlike a
// lease it may be given in seconds.
type interval struct{ d time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *interval) UnmarshalText(b []byte) error {
	s := string(b)
	if v, err := quota.ParseDuration(s); err == nil {
		d.d = v
		return nil
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || v < 0 || v%time.Second != 0 {
		return fmt.Errorf("%q is not a duration (use whole seconds or more, e.g. 30s, 5m, 1h)", s)
	}
	d.d = v
	return nil
}

// fileMode is a file mode written as an integer (0o660) or an octal string ("0660").
type fileMode uint32

// UnmarshalText implements encoding.TextUnmarshaler; integers decode directly.
func (m *fileMode) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0"), 8, 32)
	if s == "0" || s == "0o0" {
		v, err = 0, nil
	}
	if err != nil {
		return fmt.Errorf("%q is not an octal file mode (use e.g. 0o660 or \"0660\")", s)
	}
	*m = fileMode(v)
	return nil
}

// The file* types mirror Config with the types the file is written in (durations as
// strings, policies as partial overrides so that defaults fill only what is unset).
type fileConfig struct {
	Broker     fileBroker     `toml:"broker"`
	AWS        AWS            `toml:"aws"`
	Policy     filePolicies   `toml:"policy"`
	Accounting fileAccounting `toml:"accounting"`
	IAM        fileIAM        `toml:"iam"`
}

type fileBroker struct {
	Socket            string   `toml:"socket"`
	Database          string   `toml:"database"`
	AdminGroup        string   `toml:"admin_group"`
	EnrollGroups      []string `toml:"enroll_groups"`
	SocketMode        fileMode `toml:"socket_mode"`
	ReconcileInterval interval `toml:"reconcile_interval"`
	LogLevel          string   `toml:"log_level"`
}

type filePolicies struct {
	Default fileOverride            `toml:"default"`
	Group   map[string]fileOverride `toml:"group"`
}

type fileOverride struct {
	MaxInstances    *int      `toml:"max_instances"`
	MaxVCPUs        *int      `toml:"max_vcpus"`
	MaxCount        *int      `toml:"max_count"`
	InstanceTypes   []string  `toml:"instance_types"`
	Images          []string  `toml:"images"`
	ImageOwners     []string  `toml:"image_owners"`
	Regions         []string  `toml:"regions"`
	DefaultLifetime *duration `toml:"default_lifetime"`
	MaxLifetime     *duration `toml:"max_lifetime"`
	ExpireAction    *string   `toml:"expire_action"`
	ExpireWarning   *duration `toml:"expire_warning"`
	BudgetUSD       *float64  `toml:"budget_usd"`
	BudgetPeriod    *string   `toml:"budget_period"`
	BudgetAction    *string   `toml:"budget_action"`
	Spot            *string   `toml:"spot"`
	SecurityGroups  []string  `toml:"security_groups"`
	Subnet          *string   `toml:"subnet"`
	InstanceProfile *string   `toml:"instance_profile"`
	VolumeSizeGB    *int      `toml:"volume_size_gb"`
	VolumeType      *string   `toml:"volume_type"`
}

type fileAccounting struct {
	CollectInterval interval           `toml:"collect_interval"`
	TermStart       any                `toml:"term_start"` // a string or a TOML local date
	TermEnd         any                `toml:"term_end"`
	Prices          map[string]float64 `toml:"prices"`
	VolumePrices    map[string]float64 `toml:"volume_prices"`
	MailCommand     []string           `toml:"mail_command"`
	MailDomain      string             `toml:"mail_domain"`
}

type fileIAM struct {
	UserNamePattern     string   `toml:"user_name_pattern"`
	Path                string   `toml:"path"`
	PolicyFile          string   `toml:"policy_file"`
	PolicyName          string   `toml:"policy_name"`
	PropagationTimeout  interval `toml:"propagation_timeout"`
	PermissionsBoundary string   `toml:"permissions_boundary"`
}

// newFileConfig returns the file representation of the defaults, for the document to be
// decoded over: what the file sets replaces them, what it does not set stays.
func newFileConfig() *fileConfig {
	d := Default()
	return &fileConfig{
		Broker: fileBroker{
			Socket:            d.Broker.Socket,
			Database:          d.Broker.Database,
			AdminGroup:        d.Broker.AdminGroup,
			EnrollGroups:      d.Broker.EnrollGroups,
			SocketMode:        fileMode(d.Broker.SocketMode),
			ReconcileInterval: interval{d.Broker.ReconcileInterval},
			LogLevel:          d.Broker.LogLevel,
		},
		AWS: d.AWS,
		Accounting: fileAccounting{
			CollectInterval: interval{d.Accounting.CollectInterval},
			TermStart:       d.Accounting.TermStart,
			TermEnd:         d.Accounting.TermEnd,
			MailCommand:     d.Accounting.MailCommand,
			MailDomain:      d.Accounting.MailDomain,
		},
		IAM: fileIAM{
			UserNamePattern:     d.IAM.UserNamePattern,
			Path:                d.IAM.Path,
			PolicyFile:          d.IAM.PolicyFile,
			PolicyName:          d.IAM.PolicyName,
			PropagationTimeout:  interval{d.IAM.PropagationTimeout},
			PermissionsBoundary: d.IAM.PermissionsBoundary,
		},
	}
}

// config converts the decoded file into a Config. Errors carry line and key but no file.
func (fc *fileConfig) config(sc *scan) (*Config, []*Error) {
	var errs []*Error
	date := func(key string, v any) string {
		switch v := v.(type) {
		case nil:
			return ""
		case string:
			return v
		case toml.LocalDate:
			return v.String()
		default:
			errs = append(errs, &Error{Line: sc.lines[key], Key: key,
				Message: fmt.Sprintf("expected a date such as \"2026-01-20\", got %v", v)})
			return ""
		}
	}
	c := &Config{
		Broker: Broker{
			Socket:            fc.Broker.Socket,
			Database:          fc.Broker.Database,
			AdminGroup:        fc.Broker.AdminGroup,
			EnrollGroups:      fc.Broker.EnrollGroups,
			SocketMode:        uint32(fc.Broker.SocketMode),
			ReconcileInterval: fc.Broker.ReconcileInterval.d,
			LogLevel:          fc.Broker.LogLevel,
		},
		AWS: fc.AWS,
		Accounting: Accounting{
			CollectInterval: fc.Accounting.CollectInterval.d,
			TermStart:       date("accounting.term_start", fc.Accounting.TermStart),
			TermEnd:         date("accounting.term_end", fc.Accounting.TermEnd),
			Prices:          fc.Accounting.Prices,
			VolumePrices:    fc.Accounting.VolumePrices,
			MailCommand:     fc.Accounting.MailCommand,
			MailDomain:      fc.Accounting.MailDomain,
		},
		IAM: IAM{
			UserNamePattern:     fc.IAM.UserNamePattern,
			Path:                fc.IAM.Path,
			PolicyFile:          fc.IAM.PolicyFile,
			PolicyName:          fc.IAM.PolicyName,
			PropagationTimeout:  fc.IAM.PropagationTimeout.d,
			PermissionsBoundary: fc.IAM.PermissionsBoundary,
		},
	}
	def := DefaultPolicy()
	if fc.Policy.Default.Regions == nil {
		def.Regions = slices.Clone(c.AWS.Regions)
	}
	c.Policy.Default = quota.Merge(def, fc.Policy.Default.override())
	if len(fc.Policy.Group) > 0 {
		c.Policy.Group = make(map[string]quota.Override, len(fc.Policy.Group))
		for name, o := range fc.Policy.Group {
			c.Policy.Group[name] = o.override()
		}
		for _, g := range sc.groups {
			if _, ok := c.Policy.Group[g]; ok {
				c.Policy.GroupOrder = append(c.Policy.GroupOrder, g)
			}
		}
		// The scan sees every table the decoder does; groupOrder adds any it missed.
		c.Policy.GroupOrder = c.groupOrder()
	}
	return c, errs
}

func (o fileOverride) override() quota.Override {
	dur := func(d *duration) *time.Duration {
		if d == nil {
			return nil
		}
		v := d.d
		return &v
	}
	return quota.Override{
		MaxInstances:    o.MaxInstances,
		MaxVCPUs:        o.MaxVCPUs,
		MaxCount:        o.MaxCount,
		InstanceTypes:   o.InstanceTypes,
		Images:          o.Images,
		ImageOwners:     o.ImageOwners,
		Regions:         o.Regions,
		DefaultLifetime: dur(o.DefaultLifetime),
		MaxLifetime:     dur(o.MaxLifetime),
		ExpireAction:    o.ExpireAction,
		ExpireWarning:   dur(o.ExpireWarning),
		BudgetUSD:       o.BudgetUSD,
		BudgetPeriod:    o.BudgetPeriod,
		BudgetAction:    o.BudgetAction,
		Spot:            o.Spot,
		SecurityGroups:  o.SecurityGroups,
		Subnet:          o.Subnet,
		InstanceProfile: o.InstanceProfile,
		VolumeSizeGB:    o.VolumeSizeGB,
		VolumeType:      o.VolumeType,
	}
}
