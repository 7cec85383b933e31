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

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
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
// The document is decoded onto Default(), so keys the file sets keep their value even
// when it is zero (collect_interval = "0" disables the collector, budget_usd = 0 means no
// budget) and keys it does not set keep their defaults. The one default that depends on
// another key, policy.default.regions (aws.regions), is filled after decoding.
func Parse(name string, data []byte) (*Config, error) {
	if name == "" {
		name = "config"
	}
	// The decoder keeps sub-slices of data in its errors; a private copy keeps them valid
	// and keeps the caller's buffer out of reach.
	data = bytes.Clone(data)

	sc := scanDocument(data)
	if len(sc.creds) > 0 {
		for _, e := range sc.creds {
			e.File = name
		}
		return nil, joinErrors(sc.creds)
	}

	var tree map[string]any
	if err := toml.Unmarshal(data, &tree); err != nil {
		return nil, sc.completeKeys(decodeErrors(name, err))
	}
	if sc.err != nil {
		// The decoder accepted what the scanner did not: report the scanner's view.
		return nil, &Error{File: name, Line: sc.errLine, Message: sc.err.Error()}
	}

	c := Default()
	d := &decoder{lines: sc.lines, tables: sc.tables}
	d.value(reflect.ValueOf(c).Elem(), tree, nil, "")
	if len(d.errs) > 0 {
		for _, e := range d.errs {
			e.File = name
		}
		return nil, joinErrors(d.errs)
	}
	if _, ok := sc.lines["policy.default.regions"]; !ok {
		c.Policy.Default.Regions = slices.Clone(c.AWS.Regions)
	}
	for _, g := range sc.groups {
		if _, ok := c.Policy.Group[g]; ok {
			c.Policy.GroupOrder = append(c.Policy.GroupOrder, g)
		}
	}
	if len(c.Policy.Group) > 0 {
		// The scan sees every table the decoder does; groupOrder adds any it missed.
		c.Policy.GroupOrder = c.groupOrder()
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

// decodeErrors turns go-toml's errors (syntax, duplicate keys, redefined tables) into
// *Error values naming file, line and key.
func decodeErrors(name string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		return &Error{File: name, Line: line, Key: keyString(de.Key()), Message: strings.TrimPrefix(de.Error(), "toml: ")}
	}
	return &Error{File: name, Message: err.Error()}
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

// knownKeys lists the keys the table holding key accepts.
func knownKeys(key []string) []string {
	if len(key) == 0 {
		return nil
	}
	t := reflect.TypeFor[Config]()
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
	return structKeys(t)
}

// fieldByTag finds the field whose toml tag is name; fields without a key (untagged,
// "-" or unexported) are never found, even for the empty key "".
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	if name == "" {
		return reflect.StructField{}, false
	}
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
	groups  []string        // policy.group names in order of appearance
	creds   []*Error        // credential keys, refused before decoding
	tables  map[string]bool // keys opened by a [table] or [[table]] header
	err     error           // a syntax error, if any
	errLine int
}

// scanDocument walks the document with go-toml's unstable parser to map every key path
// (tables, dotted keys and inline tables alike) to its line.
func scanDocument(data []byte) (sc *scan) {
	sc = &scan{lines: map[string]int{}, atLine: map[int][]string{}, tables: map[string]bool{}}
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
			sc.tables[keyString(parts)] = true
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
