package cli

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
)

func TestConfigWarnings(t *testing.T) {
	for _, c := range []struct {
		name     string
		boundary string
		endpoint string
		want     string
	}{
		{"no boundary on AWS", "", "", "iam.permissions_boundary is unset"},
		{"boundary set", "arn:aws:iam::123456789012:policy/tollgate-student-boundary", "", ""},
		{"simulator needs none", "", "http://127.0.0.1:9000", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.IAM.PermissionsBoundary = c.boundary
			cfg.AWS.EndpointURL = c.endpoint
			got := strings.Join(configWarnings(cfg), "\n")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("warnings = %q, want %q", got, c.want)
			}
		})
	}
}
