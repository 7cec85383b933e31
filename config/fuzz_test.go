package config

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse: it must never panic, every error must
// name the file, and an accepted configuration must validate.
func FuzzParse(f *testing.F) {
	f.Add([]byte(Example()))
	f.Add([]byte("[policy.default]\nmax_lifetime = \"12x\"\n"))
	f.Add([]byte("[aws]\nsecret_access_key = \"x\"\n"))
	f.Add([]byte("[policy]\ngroup.a = { max_instances = 1, default = { x = 1 } }\n"))
	f.Add([]byte("\"\" = 1\n[iam]\n\"\" = 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		c, err := Parse("fuzz.toml", data)
		if !bytes.Equal(data, orig) {
			t.Fatalf("Parse modified its input")
		}
		if err != nil {
			if c != nil {
				t.Errorf("got a config and an error %v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.toml") {
					t.Errorf("error line %q does not name the file", line)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("got %T, want an *Error", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Parse accepted a configuration that does not validate: %v", err)
		}
		if len(c.Policy.GroupOrder) != len(c.Policy.Group) {
			t.Errorf("GroupOrder %q does not name every group of %v", c.Policy.GroupOrder, c.Policy.Group)
		}
		_ = c.EffectivePolicy(c.Policy.GroupOrder, nil)
	})
}

// FuzzParseRoster feeds arbitrary rosters to ParseRoster: it must never panic, and it
// returns either valid, unique entries in line order or a *RosterError with lines.
func FuzzParseRoster(f *testing.F) {
	f.Add("username,group\nalice,staff\nbob\n")
	f.Add("Bob\n,x\na,b,c\nalice\nalice\n")
	f.Add("\ufeff# c\r\n\"q\",\"g\"\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseRoster(strings.NewReader(in))
		if err != nil {
			var re *RosterError
			if !errors.As(err, &re) || len(re.Lines) == 0 {
				t.Fatalf("got %v, want a *RosterError with lines", err)
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
