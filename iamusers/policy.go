package iamusers

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// defaultPolicy is the shipped student policy; a test keeps it identical to
// scripts/student-iam-policy.json.
//
//go:embed default_policy.json
var defaultPolicy []byte

// maxInlinePolicy is IAM's limit on a user's inline policies (non-whitespace characters).
const maxInlinePolicy = 2048

// loadPolicy returns the compacted policy document: explicit bytes, else the file, else
// the shipped default.
func loadPolicy(explicit []byte, file string) (string, error) {
	src, raw := "built-in student policy", defaultPolicy
	switch {
	case explicit != nil:
		src, raw = "policy", explicit
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("iam.policy_file: %w", err)
		}
		src, raw = file, b
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", fmt.Errorf("iam policy %s: not JSON: %w", src, err)
	}
	var doc struct {
		Version   string
		Statement []json.RawMessage
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc.Version == "" || len(doc.Statement) == 0 {
		return "", fmt.Errorf("iam policy %s: want an object with Version and Statement", src)
	}
	if buf.Len() > maxInlinePolicy {
		return "", fmt.Errorf("iam policy %s: %d bytes compacted, IAM allows %d for a user's inline policy", src, buf.Len(), maxInlinePolicy)
	}
	return buf.String(), nil
}

// policyFor substitutes the identity's names into the policy document.
func (s *Service) policyFor(user, iamUser string) string {
	return strings.NewReplacer("{user}", user, "{iam_user}", iamUser).Replace(s.policy)
}
