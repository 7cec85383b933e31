package broker

import (
	"fmt"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/iamusers"
)

func TestIAMErrorCodes(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		code string
	}{
		{"has key", fmt.Errorf("alice: %w", iamusers.ErrHasKey), api.CodeConflict},
		{"not ours", iamusers.ErrNotOurs, api.CodeConflict},
		{"no identity", fmt.Errorf("bob: %w", iamusers.ErrNotFound), api.CodeNotFound},
		{"no IAM", iamusers.ErrUnavailable, api.CodeUnavailable},
		{"bad name", iamusers.ErrBadUserName, api.CodeInvalidRequest},
		{"propagation", iamusers.ErrPropagation, api.CodeCloudError},
		{"broker error kept", &api.Error{Code: api.CodeForbidden, Message: "no"}, api.CodeForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := iamError("issue", c.err).Code; got != c.code {
				t.Errorf("iamError(%v).Code = %s, want %s", c.err, got, c.code)
			}
		})
	}
}
