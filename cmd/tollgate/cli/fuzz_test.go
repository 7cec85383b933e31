package cli

import (
	"strings"
	"testing"
	"time"
)

// FuzzLaunchSpec feeds arbitrary --spec documents (stdin) through the request builder:
// it must never panic, and whatever it accepts respects EC2's user-data limit.
func FuzzLaunchSpec(f *testing.F) {
	for _, s := range []string{
		`{"type":"t3.micro","count":2,"lifetime":"4h"}`,
		`{"user_data":"aGVsbG8="}`,
		`{"spot":true,"name":"x","region":"us-west-2","image":"ami-0123456789abcdef0"}`,
		`{"security_groups":["sg-1"]}`,
		`[]`, `{"count":-1}`, `{"user_data":"!!"}`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c := LaunchCmd{Spec: "-"}
		req, err := c.request(strings.NewReader(spec))
		if err == nil && len(req.UserData) > maxUserData {
			t.Errorf("accepted %d bytes of user data", len(req.UserData))
		}
	})
}

// FuzzParseWhen checks the --since/--until parser never panics and that a duration means
// a time in the past.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"", "24h", "2d", "1d6h", "90m", "2026-03-01", "2026-03-01T09:00:00Z", "0d", "-1h", "9999999999d"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseLease(s); err == nil && d <= 0 {
			t.Errorf("parseLease(%q) = %v, want a positive duration", s, d)
		}
		_, _ = parseWhen(s, now)
	})
}
