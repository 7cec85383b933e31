package roster

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParseRoster feeds arbitrary rosters to Parse: it must never panic, and it
// returns either valid, unique entries in line order or a *Error with lines.
func FuzzParseRoster(f *testing.F) {
	f.Add("username,group\nalice,staff\nbob\n")
	f.Add("Bob\n,x\na,b,c\nalice\nalice\n")
	f.Add("\ufeff# c\r\n\"q\",\"g\"\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := Parse(strings.NewReader(in))
		if err != nil {
			var re *Error
			if !errors.As(err, &re) || len(re.Lines) == 0 {
				t.Fatalf("got %v, want a *Error with lines", err)
			}
			if entries != nil {
				t.Errorf("got entries %v with an error", entries)
			}
			return
		}
		var users []string
		last := 0
		for _, e := range entries {
			if nameProblem("user", e.User) != "" || (e.Group != "" && nameProblem("group", e.Group) != "") {
				t.Errorf("accepted a bad entry %+v", e)
			}
			if slices.Contains(users, e.User) {
				t.Errorf("accepted %s twice", e.User)
			}
			if e.Line <= last {
				t.Errorf("entries out of line order: %+v", entries)
			}
			users, last = append(users, e.User), e.Line
		}
	})
}
