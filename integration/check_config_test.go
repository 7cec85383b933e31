package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		config   string
		wantCode int
		want     []string // in the combined output
	}{
		{name: "good", config: "[broker]\nsocket = \"/tmp/x.sock\"\n\n[policy.default]\nmax_instances = 3\n",
			wantCode: 0, want: []string{"ok"}},
		{name: "unknown key", config: "[broker]\nsocket = \"/tmp/x.sock\"\nsockett = 1\n",
			wantCode: 1, want: []string{"unknown_key.toml:3", "sockett"}},
		{name: "bad value", config: "[policy.default]\nmax_instances = 2\nexpire_action = \"explode\"\n",
			wantCode: 1, want: []string{"bad_value.toml:3", "expire_action"}},
		{name: "a secret in the file", config: "[aws]\nsecret_access_key = \"x\"\n",
			wantCode: 1, want: []string{"a_secret_in_the_file.toml:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".toml")
			if err := os.WriteFile(path, []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bins.tollgated, "check-config", "--config", path).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("run check-config: %v", err)
			}
			if code != tt.wantCode {
				t.Errorf("check-config: exit %d, want %d\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("check-config output = %q, want it to contain %q", out, w)
				}
			}
		})
	}
}
