package config

import (
	"bytes"
	"errors"
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
	f.Add([]byte("[broker]\ndatabase = \"postgres://u:p@[::1/x?password=y&host=/run\"\ndatabase_password_file = \"/p\"\n"))
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
