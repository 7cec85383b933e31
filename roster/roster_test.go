package roster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseRoster(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{"empty", "", nil},
		{"users only", "alice\nbob\n", []Entry{{1, "alice", ""}, {2, "bob", ""}}},
		{"users and groups", "alice,cs61c-students\nbob,cs61c-tas\n", []Entry{{1, "alice", "cs61c-students"}, {2, "bob", "cs61c-tas"}}},
		{"header", "username,group\nalice,staff\n", []Entry{{2, "alice", "staff"}}},
		{"header any case and spaces", "# roster\n\nUserName , Group\nalice\n", []Entry{{4, "alice", ""}}},
		{"header of one column", "username\nalice\n", []Entry{{2, "alice", ""}}},
		{"blank lines and comments", "\n# comment\nalice\n   \n  # indented comment\nbob\n", []Entry{{3, "alice", ""}, {6, "bob", ""}}},
		{"spaces and quotes", "  alice , staff \n\"bob\",\"tas\"\n", []Entry{{1, "alice", "staff"}, {2, "bob", "tas"}}},
		{"empty group", "alice,\n", []Entry{{1, "alice", ""}}},
		{"CRLF and BOM", "\ufeffusername,group\r\nalice,staff\r\nbob\r\n", []Entry{{2, "alice", "staff"}, {3, "bob", ""}}},
		{"no final newline", "alice", []Entry{{1, "alice", ""}}},
		{"POSIX characters", "_svc\na.b-c_1\n" + strings.Repeat("x", 32) + "\n", []Entry{{1, "_svc", ""}, {2, "a.b-c_1", ""}, {3, strings.Repeat("x", 32), ""}}},
		{"header only first", "alice\nusername,group\n", []Entry{{1, "alice", ""}, {2, "username", "group"}}},
		{"same group for many", "a,g\nb,g\n", []Entry{{1, "a", "g"}, {2, "b", "g"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRosterErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []LineError
	}{
		{"upper case", "Alice\n", []LineError{{1, "Alice", `user name "Alice" has upper-case letters (POSIX names are lower-case)`}}},
		{"space in name", "alice smith,staff\n", []LineError{{1, "alice smith,staff", `user name "alice smith" is not a POSIX name (a lower-case letter or _, then letters, digits, _ . -)`}}},
		{"leading digit", "1alice\n", []LineError{{1, "1alice", `user name "1alice" is not a POSIX name (a lower-case letter or _, then letters, digits, _ . -)`}}},
		{"leading dash", "-alice\n", []LineError{{1, "-alice", `user name "-alice" is not a POSIX name (a lower-case letter or _, then letters, digits, _ . -)`}}},
		{"machine account", "host$\n", []LineError{{1, "host$", `user name "host$" ends with $ (machine accounts cannot be enrolled)`}}},
		{"too long", strings.Repeat("a", 33) + "\n", []LineError{{1, strings.Repeat("a", 33), `user name "` + strings.Repeat("a", 33) + `" is longer than 32 characters`}}},
		{"empty user", ",staff\n", []LineError{{1, ",staff", "user name is empty"}}},
		{"bad group", "alice,Staff\n", []LineError{{1, "alice,Staff", `group name "Staff" has upper-case letters (POSIX names are lower-case)`}}},
		{"too many fields", "alice,staff,extra\n", []LineError{{1, "alice,staff,extra", "has 3 fields: want username[,group]"}}},
		{"duplicate", "alice,a\nbob\nalice,b\n", []LineError{{3, "alice,b", "user alice is listed again (first on line 1)"}}},
		{"every bad line", "username,group\nalice\nBob\n\ncarol,,x\nalice\ndave$\n", []LineError{
			{3, "Bob", `user name "Bob" has upper-case letters (POSIX names are lower-case)`},
			{5, "carol,,x", "has 3 fields: want username[,group]"},
			{6, "alice", "user alice is listed again (first on line 2)"},
			{7, "dave$", `user name "dave$" ends with $ (machine accounts cannot be enrolled)`},
		}},
		{"long line shortened", strings.Repeat("é", 100) + "\n", []LineError{{1, strings.Repeat("é", 40) + "…", ""}}},
		{"control character", "ali\x00ce\n", []LineError{{1, "ali\x00ce", `user name "ali\x00ce" is not a POSIX name (a lower-case letter or _, then letters, digits, _ . -)`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if got != nil {
				t.Errorf("got entries %v, want none when a line is bad", got)
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *Error", err)
			}
			if len(re.Lines) != len(tt.want) {
				t.Fatalf("got %d bad lines %+v, want %d", len(re.Lines), re.Lines, len(tt.want))
			}
			for i, w := range tt.want {
				g := re.Lines[i]
				if g.Line != w.Line || g.Text != w.Text || (w.Problem != "" && g.Problem != w.Problem) {
					t.Errorf("line %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
	t.Run("error text lists every line", func(t *testing.T) {
		_, err := Parse(strings.NewReader("Bob\nok\nx y\n"))
		want := "roster has 2 bad lines\n" +
			`line 1: "Bob": user name "Bob" has upper-case letters (POSIX names are lower-case)` + "\n" +
			`line 3: "x y": user name "x y" is not a POSIX name (a lower-case letter or _, then letters, digits, _ . -)`
		if err == nil || err.Error() != want {
			t.Errorf("got\n%v\nwant\n%s", err, want)
		}
	})
	t.Run("read error", func(t *testing.T) {
		_, err := Parse(iotest.ErrReader(errors.New("disk on fire")))
		if err == nil || err.Error() != "read roster: disk on fire" {
			t.Errorf("got %v", err)
		}
	})
}
