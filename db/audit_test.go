package db

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSafeText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"plain", "i-0123456789abcdef0", 256, "i-0123456789abcdef0"},
		{"unicode kept", "café ünïcode", 256, "café ünïcode"},
		{"newline", "i-x\n42 forged", 256, `i-x\n42 forged`},
		{"escape sequence", "\x1b[31mRED\x1b]0;title\x07", 256, `\x1b[31mRED\x1b]0;title\a`},
		{"bidi override", "abc\u202edef", 256, `abc\u202edef`},
		{"invalid utf-8", "a\xffb", 256, `a\ufffdb`},
		{"cut", strings.Repeat("a", 300), 10, "aaaaaaa…"},
		{"cut on a rune boundary", strings.Repeat("é", 10), 8, "éé…"},
		{"cut after escaping", strings.Repeat("\n", 100), 10, `\n\n\n…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SafeText(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(got) > tt.max || !utf8.ValidString(got) {
				t.Errorf("got %d bytes (valid UTF-8 %v), want at most %d valid", len(got), utf8.ValidString(got), tt.max)
			}
		})
	}
}

// TestAuditIsBoundedAndPrintable is the review's finding #3: what a user sends reaches the
// audit log escaped and cut, so it can neither forge a line nor fill the disk.
func TestAuditIsBoundedAndPrintable(t *testing.T) { eachEngine(t, testAuditIsBoundedAndPrintable) }

func testAuditIsBoundedAndPrintable(t *testing.T, engine Engine) {
	ctx := context.Background()
	d := openOn(t, engine)
	huge := strings.Repeat("x", 60<<10)
	e := AuditEntry{Actor: "alice", UID: 1001, Action: "extend", Decision: Refused,
		Target: "i-x\n42  2030-01-01 00:00:00  bob  launch  i-0  allowed  -\x1b[31mRED" + huge,
		Reason: "not your instance: " + huge + "\x1b]0;t\x07",
		Detail: map[string]any{"duration": "1h\r\n" + huge, "owners": []string{"a\nb"}, "count": 3}}
	if err := d.AppendAudit(ctx, nil, e); err != nil {
		t.Fatal(err)
	}
	got, err := d.ListAudit(ctx, AuditFilter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v; want one entry", got, err)
	}
	g := got[0]
	for field, v := range map[string]struct {
		s   string
		max int
	}{
		"target": {g.Target, MaxAuditTarget}, "reason": {g.Reason, MaxAuditReason},
		"detail.duration": {g.Detail["duration"].(string), MaxAuditDetail},
	} {
		if len(v.s) > v.max {
			t.Errorf("%s: got %d bytes, want at most %d", field, len(v.s), v.max)
		}
		if strings.ContainsAny(v.s, "\n\r\x1b\x07") {
			t.Errorf("%s: got %q, want no control characters", field, v.s)
		}
	}
	if !strings.HasPrefix(g.Target, `i-x\n42  2030`) {
		t.Errorf("got target %q, want the newline shown escaped", g.Target)
	}
	if owners := g.Detail["owners"].([]any); owners[0] != `a\nb` {
		t.Errorf("got owners %q, want the newline escaped", owners)
	}
	if g.Detail["count"] != float64(3) {
		t.Errorf("got count %v, want 3 unchanged", g.Detail["count"])
	}
}
