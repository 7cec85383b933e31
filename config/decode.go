package config

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/tollgate/tollgate/quota"
)

// The file is decoded straight onto the domain structs (Config, Broker, quota.Policy,
// quota.Override, ...): a key is a field with a `toml` tag, and adding one is adding the
// field. go-toml parses the document into a tree (syntax, duplicate keys, redefined
// tables); the decoder below assigns that tree onto the structs by their tags, with the
// line and key of every value that does not fit.
//
// Why not go-toml's own struct decoding with UnmarshalText types: the domain keeps
// time.Duration, uint32 and string fields. A named Duration type would need conversions
// at every use (broker, accounting, the CLI, the tests), and encoding/json sends a JSON
// number for a type with UnmarshalText to that method and fails: quota.Override travels
// on the socket and sits in the database as JSON with nanosecond durations. So the text
// form of the few fields that cannot carry a method is named by a `format` tag instead:
//
//	time.Duration            "30s", "5m", "1d": whole seconds (no tag)
//	time.Duration  minutes   "4h", "90m", "2d": whole minutes, quota.ParseDuration (leases)
//	uint32         mode      0o660 or "0660"
//	string         date      "2026-01-20" or a TOML local date 2026-01-20
//
// Any other field type that implements encoding.TextUnmarshaler decodes from a string
// through it. Enumerations (expire_action, spot, ...) stay strings: Validate names the
// allowed values with the key's line, for files and for configurations built in code.

var (
	durationType      = reflect.TypeFor[time.Duration]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decoder assigns a go-toml tree (map[string]any, []any, string, int64, float64, bool,
// toml.Local*, time.Time) onto Go values.
type decoder struct {
	lines  map[string]int  // keyString(path) → line, from the scan
	tables map[string]bool // keys opened by a [table] header
	errs   []*Error
}

func (d *decoder) fail(path []string, format string, args ...any) {
	d.errs = append(d.errs, &Error{Line: lineOf(d.lines, path), Key: keyString(path), Message: fmt.Sprintf(format, args...)})
}

// mismatch reports a value of the wrong TOML type.
func (d *decoder) mismatch(path []string, t reflect.Type, format string, x any) {
	d.fail(path, "expected %s, got a TOML %s", describe(t, format), kindOf(x))
}

// lineOf returns the line of key path parts, or of its nearest enclosing key written in
// the file, or 0.
func lineOf(lines map[string]int, parts []string) int {
	for n := len(parts); n > 0; n-- {
		if l, ok := lines[keyString(parts[:n])]; ok {
			return l
		}
	}
	return 0
}

// value decodes x onto v, which must be settable. format is the `format` tag of the
// field v belongs to; it applies through pointers, lists and maps to the value inside.
func (d *decoder) value(v reflect.Value, x any, path []string, format string) {
	t := v.Type()
	switch {
	case t == durationType:
		d.duration(v, x, path, format)
		return
	case format == "mode" && t.Kind() == reflect.Uint32:
		d.mode(v, x, path)
		return
	case format == "date" && t.Kind() == reflect.String:
		switch x := x.(type) {
		case string:
			v.SetString(x)
		case toml.LocalDate:
			v.SetString(x.String())
		default:
			d.fail(path, "expected a date such as \"2026-01-20\", got %v", x)
		}
		return
	case format != "" && format != "minutes":
		d.fail(path, "internal error: format %q does not apply to %s", format, t)
		return
	}
	if t.Kind() == reflect.Pointer {
		// Decode onto a copy: a pointer taken from a default is never written through.
		nv := reflect.New(t.Elem())
		if !v.IsNil() {
			nv.Elem().Set(v.Elem())
		}
		d.value(nv.Elem(), x, path, format)
		v.Set(nv)
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshalType) {
		s, ok := x.(string)
		if !ok {
			d.mismatch(path, t, format, x)
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(path, "%s", err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := x.(string)
		if !ok {
			d.mismatch(path, t, format, x)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := x.(bool)
		if !ok {
			d.mismatch(path, t, format, x)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := x.(int64)
		switch {
		case !ok:
			d.mismatch(path, t, format, x)
		case v.OverflowInt(i):
			d.fail(path, "%d is out of range", i)
		default:
			v.SetInt(i)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := x.(int64)
		switch {
		case !ok:
			d.mismatch(path, t, format, x)
		case i < 0:
			d.fail(path, "%d is negative", i)
		case v.OverflowUint(uint64(i)):
			d.fail(path, "%d is out of range", i)
		default:
			v.SetUint(uint64(i))
		}
	case reflect.Float32, reflect.Float64:
		switch x := x.(type) {
		case float64:
			v.SetFloat(x)
		case int64:
			v.SetFloat(float64(x))
		default:
			d.mismatch(path, t, format, x)
		}
	case reflect.Slice:
		list, ok := x.([]any)
		if !ok {
			d.mismatch(path, t, format, x)
			return
		}
		// A list the file sets replaces the default, and stays non-nil when empty.
		s := reflect.MakeSlice(t, len(list), len(list))
		for i, e := range list {
			before := len(d.errs)
			d.value(s.Index(i), e, path, format)
			if len(d.errs) > before {
				return
			}
		}
		v.Set(s)
	case reflect.Map:
		m, ok := x.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			d.mismatch(path, t, format, x)
			return
		}
		if v.IsNil() && len(m) > 0 { // an empty table holds nothing: the map stays nil
			v.Set(reflect.MakeMapWithSize(t, len(m)))
		}
		for _, k := range sortedKeys(m) {
			kv := reflect.ValueOf(k).Convert(t.Key())
			e := reflect.New(t.Elem()).Elem()
			if old := v.MapIndex(kv); old.IsValid() {
				e.Set(old)
			}
			d.value(e, m[k], append(path[:len(path):len(path)], k), format)
			v.SetMapIndex(kv, e)
		}
	case reflect.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			d.mismatch(path, t, format, x)
			return
		}
		for _, k := range sortedKeys(m) {
			kp := append(path[:len(path):len(path)], k)
			f, ok := fieldByTag(t, k)
			if !ok {
				what := "unknown key"
				if d.tables[keyString(kp)] {
					what = "unknown table"
				}
				d.fail(kp, "%s (known keys here: %s)", what, strings.Join(structKeys(t), ", "))
				continue
			}
			d.value(v.FieldByIndex(f.Index), m[k], kp, f.Tag.Get("format"))
		}
	default:
		d.fail(path, "internal error: cannot decode into %s", t)
	}
}

// duration decodes a duration string: whole minutes with format "minutes" (a lease),
// whole seconds otherwise (an interval or a timeout).
func (d *decoder) duration(v reflect.Value, x any, path []string, format string) {
	s, ok := x.(string)
	if !ok {
		d.fail(path, "expected %s, got a TOML %s", describe(durationType, format), kindOf(x))
		return
	}
	parse := parseInterval
	if format == "minutes" {
		parse = quota.ParseDuration
	}
	dur, err := parse(s)
	if err != nil {
		d.fail(path, "%s", err.Error())
		return
	}
	v.SetInt(int64(dur))
}

// parseInterval reads an operational interval or timeout ("5m", "30s"): unlike a lease it
// may be given in seconds.
func parseInterval(s string) (time.Duration, error) {
	if v, err := quota.ParseDuration(s); err == nil {
		return v, nil
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || v < 0 || v%time.Second != 0 {
		return 0, fmt.Errorf("%q is not a duration (use whole seconds or more, e.g. 30s, 5m, 1h)", s)
	}
	return v, nil
}

// mode decodes a file mode written as an integer (0o660) or an octal string ("0660").
func (d *decoder) mode(v reflect.Value, x any, path []string) {
	switch x := x.(type) {
	case int64:
		if x < 0 || v.OverflowUint(uint64(x)) {
			d.fail(path, "%d is not a file mode (use e.g. 0o660)", x)
			return
		}
		v.SetUint(uint64(x))
	case string:
		s := strings.TrimSpace(x)
		m, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0"), 8, 32)
		if s == "0" || s == "0o0" {
			m, err = 0, nil
		}
		if err != nil {
			d.fail(path, "%q is not an octal file mode (use e.g. 0o660 or \"0660\")", s)
			return
		}
		v.SetUint(m)
	default:
		d.fail(path, "expected %s, got a TOML %s", describe(v.Type(), "mode"), kindOf(x))
	}
}

// describe says what a key of type t and format is written as, for type errors.
func describe(t reflect.Type, format string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return `a duration string such as "4h"`
	case format == "mode":
		return "an integer such as 0o660"
	case format == "date":
		return `a date such as "2026-01-20"`
	case reflect.PointerTo(t).Implements(textUnmarshalType):
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + plurals(t.Elem(), format)
	case reflect.Map:
		if e := t.Elem(); e.Kind() == reflect.Float64 {
			return "a table of numbers"
		}
	}
	return "a table"
}

func plurals(t reflect.Type, format string) string {
	switch d := describe(t, format); d {
	case "a string":
		return "strings"
	case "an integer":
		return "integers"
	case "a number":
		return "numbers"
	default:
		return "values (each " + d + ")"
	}
}

// kindOf names the TOML type of a value of go-toml's tree.
func kindOf(x any) string {
	switch x.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	default:
		return "date or time"
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// structKeys lists the keys a struct type accepts, in field order.
func structKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if tag := tagName(t.Field(i)); tag != "" {
			keys = append(keys, tag)
		}
	}
	return keys
}
