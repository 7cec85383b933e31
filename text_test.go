package tollgate

import (
	"strings"
	"testing"
)

func TestCheckLabel(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
		wantInErr   string
	}{
		{"empty", "", true, ""},
		{"section", "cs61c-lab 101", true, ""},
		{"unicode", "Gruppe Ä", true, ""},
		{"ESC sequence", "s1\x1b[2J", false, `"s1\x1b[2J"`},
		{"newline", "s1\nalice,0", false, `"s1\nalice,0"`},
		{"tab", "a\tb", false, `"a\tb"`},
		{"bidi override", "a\u202eb", false, `\u202e`},
		{"invalid UTF-8", "a\xffb", false, `\xff`},
		{"too long", strings.Repeat("x", MaxLabelLength+1), false, "at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLabel("group", tt.value)
			if tt.ok {
				if err != nil {
					t.Errorf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error for %q", tt.value)
			}
			msg := err.Error()
			for _, want := range []string{"group ", tt.wantInErr} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if !Printable(msg) {
				t.Errorf("error %q is not printable itself", msg)
			}
		})
	}
}
