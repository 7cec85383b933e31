// Package roster parses the roster CSV an admin imports users from ("username[,group]"
// per line). It is its own package so the user CLI can parse a roster without linking
// the daemon's configuration (and its TOML decoder).
package roster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Entry is one line of a roster CSV ("username[,group]").
type Entry struct {
	Line  int    `json:"line"`
	User  string `json:"user"`
	Group string `json:"group"`
}

// LineError is one bad line of a roster.
type LineError struct {
	Line    int    `json:"line"`
	Text    string `json:"text"`    // the line as read (shortened if very long)
	Problem string `json:"problem"` // what is wrong with it
}

// Error reports every bad line of a roster at once, so an admin fixes the file in
// one pass.
type Error struct {
	Lines []LineError `json:"lines"`
}

// Error returns one line per bad roster line: `line 4: "Bob Smith": ...`.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "roster has %d bad %s", len(e.Lines), plural(len(e.Lines), "line", "lines"))
	for _, l := range e.Lines {
		fmt.Fprintf(&b, "\nline %d: %s: %s", l.Line, strconv.Quote(l.Text), l.Problem)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// posixName is a portable POSIX user or group name as useradd accepts it, without the
// trailing $ of machine accounts.
var posixName = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

// maxRosterText bounds how much of a bad line an error repeats.
const maxRosterText = 80

// Parse reads a roster CSV: one "username[,group]" per line. Blank lines and lines
// starting with # are skipped, as is a first line "username,group" (or "username").
// Fields may be surrounded by spaces or double quotes. User and group names must be
// POSIX names ([a-z_][a-z0-9_.-]{0,31}); the group may be empty. Every bad line, and
// every user listed twice, is reported in one *Error, and then no entries are
// returned.
func Parse(r io.Reader) ([]Entry, error) {
	br := bufio.NewReader(r)
	var (
		entries []Entry
		bad     []LineError
		first   = map[string]int{} // user → line first listed
		header  = true             // a header may still come
	)
	for n := 1; ; n++ {
		raw, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read roster: %w", err)
		}
		if raw == "" && err != nil {
			break
		}
		text := strings.TrimRight(raw, "\r\n")
		if n == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // a BOM from spreadsheet exports
		}
		line := strings.TrimSpace(text)
		if line == "" || strings.HasPrefix(line, "#") {
			if err != nil {
				break
			}
			continue
		}
		if header {
			header = false
			if h := strings.ToLower(strings.ReplaceAll(line, " ", "")); h == "username,group" || h == "username" {
				continue
			}
		}
		user, group, problem := rosterLine(line)
		if problem == "" {
			if at, dup := first[user]; dup {
				problem = fmt.Sprintf("user %s is listed again (first on line %d)", user, at)
			} else {
				first[user] = n
			}
		}
		if problem != "" {
			bad = append(bad, LineError{Line: n, Text: shorten(text), Problem: problem})
		} else {
			entries = append(entries, Entry{Line: n, User: user, Group: group})
		}
		if err != nil {
			break
		}
	}
	if len(bad) > 0 {
		return nil, &Error{Lines: bad}
	}
	return entries, nil
}

// rosterLine splits and checks one non-blank line.
func rosterLine(line string) (user, group, problem string) {
	fields := strings.Split(line, ",")
	if len(fields) > 2 {
		return "", "", fmt.Sprintf("has %d fields: want username[,group]", len(fields))
	}
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
			f = strings.TrimSpace(f[1 : len(f)-1])
		}
		fields[i] = f
	}
	user = fields[0]
	if len(fields) == 2 {
		group = fields[1]
	}
	if p := nameProblem("user", user); p != "" {
		return "", "", p
	}
	if group != "" {
		if p := nameProblem("group", group); p != "" {
			return "", "", p
		}
	}
	return user, group, ""
}

// nameProblem says what is wrong with a user or group name, or "".
func nameProblem(what, name string) string {
	switch {
	case name == "":
		return what + " name is empty"
	case posixName.MatchString(name):
		return ""
	case strings.HasSuffix(name, "$"):
		return fmt.Sprintf("%s name %q ends with $ (machine accounts cannot be enrolled)", what, name)
	case len(name) > 32:
		return fmt.Sprintf("%s name %q is longer than 32 characters", what, name)
	case strings.ToLower(name) != name:
		return fmt.Sprintf("%s name %q has upper-case letters (POSIX names are lower-case)", what, name)
	default:
		return fmt.Sprintf("%s name %q is not a POSIX name (a lower-case letter or _, then letters, digits, _ . -)", what, name)
	}
}

func shorten(s string) string {
	if len(s) <= maxRosterText {
		return s
	}
	cut := maxRosterText
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
