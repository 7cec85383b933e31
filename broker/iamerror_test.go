package broker

import (
	"fmt"
	"testing"

	"github.com/tollgate/tollgate/iamusers"
)

func TestIAMErrorCodes(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		code string
	}{
		{"has key", fmt.Errorf("alice: %w", iamusers.ErrHasKey), CodeConflict},
		{"not ours", iamusers.ErrNotOurs, CodeConflict},
		{"no identity", fmt.Errorf("bob: %w", iamusers.ErrNotFound), CodeNotFound},
		{"no IAM", iamusers.ErrUnavailable, CodeUnavailable},
		{"bad name", iamusers.ErrBadUserName, CodeInvalidRequest},
		{"propagation", iamusers.ErrPropagation, CodeCloudError},
		{"broker error kept", &Error{Code: CodeForbidden, Message: "no"}, CodeForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := iamError("issue", c.err).Code; got != c.code {
				t.Errorf("iamError(%v).Code = %s, want %s", c.err, got, c.code)
			}
		})
	}
}
