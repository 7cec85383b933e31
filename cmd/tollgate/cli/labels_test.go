package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageErrorsForLabelsAndMode: a group label holding ESC or a newline and a bad
// --mode are usage errors before the daemon is asked (the daemon refuses them too).
func TestUsageErrorsForLabelsAndMode(t *testing.T) {
	nowhere := filepath.Join(t.TempDir(), "no.sock")
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"ESC in group", []string{"--socket", nowhere, "admin", "users", "add", "alice", "--group", "s1\x1b[2J"}, `--group: group "s1\x1b[2J" holds a character that is not printable`},
		{"newline in group", []string{"--socket", nowhere, "admin", "users", "add", "alice", "--group", "s1\nx"}, `"s1\nx"`},
		{"bad report mode", []string{"--socket", nowhere, "admin", "report", "-o", "r.csv", "--mode", "999"}, "--mode 999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runMain(t, "", tt.args...)
			if code != ExitUsage {
				t.Errorf("exit = %d, want %d (stderr %q)", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) || strings.ContainsAny(stderr, "\x1b") {
				t.Errorf("stderr %q, want it to contain %q and no raw ESC", stderr, tt.wantStderr)
			}
		})
	}
}
