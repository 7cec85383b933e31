package tollgate

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLabelLength is the longest label (a roster group, a course section) an admin may
// set, in characters.
const MaxLabelLength = 64

// Printable reports whether s is valid UTF-8 made only of printable characters
// (unicode.IsPrint: no control characters such as ESC, newline or tab, no format
// characters such as bidirectional overrides). It is the rule for every name or label
// that others will see in a table, a report or a log: instance names, group labels.
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// CheckLabel refuses a label that is not Printable or longer than MaxLabelLength. The
// error names the field, quotes the value with its bad characters escaped, and says
// what is allowed.
func CheckLabel(field, value string) error {
	if !Printable(value) {
		return fmt.Errorf("%s %s holds a character that is not printable: a %s may hold printable characters only (no control characters, ESC sequences, tabs or newlines)",
			field, strconv.Quote(value), field)
	}
	if n := utf8.RuneCountInString(value); n > MaxLabelLength {
		return fmt.Errorf("%s %s is %d characters long: a %s may hold at most %d", field, strconv.Quote(Escape(string([]rune(value)[:MaxLabelLength]))+"…"), n, field, MaxLabelLength)
	}
	return nil
}

// Escape returns s with what a terminal would interpret (ESC sequences, newlines, tabs,
// other control and invalid bytes) as Go-style escapes. Table cells and messages can
// hold text that others wrote (instance names, tags of untracked instances, audit
// targets, group labels), and it must neither forge a row nor drive a terminal.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}
