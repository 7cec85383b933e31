package iamusers_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/iamusers"
)

var errKilled = errors.New("killed")

func TestCrashRecovery(t *testing.T) {
	tests := []struct {
		name      string
		before    func(e *env) // state before the crashing call
		rotate    bool
		hooks     iamusers.Hooks
		wantUser  bool     // the IAM user exists after recovery
		wantKeys  []string // "prior" keys expected to survive, by index into those before
		wantPrior int
	}{
		{
			name:     "between CreateUser and recording",
			hooks:    iamusers.Hooks{AfterCreateUser: func(string) error { return errKilled }},
			wantUser: false,
		},
		{
			name:     "between CreateAccessKey and handing over, first key",
			hooks:    iamusers.Hooks{AfterCreateAccessKey: func(string, string) error { return errKilled }},
			wantUser: true, wantPrior: 0,
		},
		{
			name:     "between CreateAccessKey and handing over, rotation",
			before:   func(e *env) { e.issue("gina", false) },
			rotate:   true,
			hooks:    iamusers.Hooks{AfterCreateAccessKey: func(string, string) error { return errKilled }},
			wantUser: true, wantPrior: 1,
		},
		{
			name:     "between CreateAccessKey and handing over, rotation at two keys",
			before:   func(e *env) { e.issue("gina", false); e.createKey("tollgate-gina") },
			rotate:   true,
			hooks:    iamusers.Hooks{AfterCreateAccessKey: func(string, string) error { return errKilled }},
			wantUser: true, wantPrior: 1, // the oldest was retired to make room
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			if tt.before != nil {
				tt.before(e)
			}
			opts := e.opts
			opts.Hooks = tt.hooks
			crashing := e.newService(opts)
			var created string
			if opts.Hooks.AfterCreateAccessKey != nil {
				opts.Hooks.AfterCreateAccessKey = func(_, id string) error { created = id; return errKilled }
				crashing = e.newService(opts)
			}
			if _, err := crashing.Issue(ctx, "gina", tt.rotate); !errors.Is(err, errKilled) {
				t.Fatalf("Issue err = %v, want the simulated kill", err)
			}
			before := map[string]bool{}
			if u, ok := e.sim.LookupUser("tollgate-gina"); ok {
				for _, k := range u.Keys {
					before[k.ID] = true
				}
			}
			// Restart: a fresh service on the same database.
			if err := e.newService(e.opts).Recover(ctx); err != nil {
				t.Fatalf("Recover: %v", err)
			}
			u, exists := e.sim.LookupUser("tollgate-gina")
			if exists != tt.wantUser {
				t.Fatalf("IAM user exists = %v, want %v", exists, tt.wantUser)
			}
			if exists {
				if created != "" && !before[created] {
					t.Fatalf("the key created before the kill (%s) was not in IAM", created)
				}
				for _, k := range u.Keys {
					if k.ID == created {
						t.Errorf("orphan key %s survived recovery", created)
					}
					if k.Status != "Active" {
						t.Errorf("prior key %s left %s", k.ID, k.Status)
					}
				}
				if got := len(u.Keys); got != tt.wantPrior {
					t.Errorf("keys after recovery = %v, want %d prior keys", keyIDs(u), tt.wantPrior)
				}
			}
			if _, err := e.db.ListIAMKeyIntents(ctx); err != nil {
				t.Fatal(err)
			}
			if ins, _ := e.db.ListIAMKeyIntents(ctx); len(ins) != 0 {
				t.Errorf("key intents left after recovery: %+v", ins)
			}
			ident, found, _ := e.db.GetIAMIdentity(ctx, nil, "gina")
			if found != tt.wantUser || (found && ident.State != db.IAMActive) {
				t.Errorf("identity record = %+v (found %v), want found=%v and active", ident, found, tt.wantUser)
			}
			if es := e.audit(iamusers.ActionRecover); len(es) != 1 {
				t.Errorf("recover audit entries = %d, want 1", len(es))
			}
			// Recovery is idempotent and the user can carry on.
			if err := e.newService(e.opts).Recover(ctx); err != nil {
				t.Errorf("second Recover: %v", err)
			}
			e.issue("gina", true)
			if got := len(e.simUser("tollgate-gina").Keys); got != 1 {
				t.Errorf("keys after a fresh rotation = %d, want 1", got)
			}
		})
	}
}

// TestSecretNeverStored greps the daemon's logs, database files and audit table for every
// secret handed out.
func TestSecretNeverStored(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sim.SetPropagationDelay(3e9)
	var secrets []string
	secrets = append(secrets, e.issue("hana", false).SecretAccessKey)
	secrets = append(secrets, e.issue("hana", true).SecretAccessKey)
	secrets = append(secrets, e.issue("ivan", false).SecretAccessKey)
	if err := e.svc.Revoke(ctx, "ivan"); err != nil {
		t.Fatal(err)
	}
	// A crashed issue too: its secret was received by the daemon and lost.
	opts := e.opts
	opts.Hooks.AfterCreateAccessKey = func(string, string) error { return errKilled }
	if _, err := e.newService(opts).Issue(ctx, "hana", true); !errors.Is(err, errKilled) {
		t.Fatal(err)
	}
	if err := e.newService(e.opts).Recover(ctx); err != nil {
		t.Fatal(err)
	}
	audit, err := e.db.ListAudit(ctx, db.AuditFilter{})
	if err != nil || len(audit) < 5 {
		t.Fatalf("audit = %d entries, %v; want at least 5", len(audit), err)
	}
	var auditText strings.Builder
	for _, a := range audit {
		auditText.WriteString(a.Actor + a.Action + a.Target + a.Reason)
		for k, v := range a.Detail {
			auditText.WriteString(k)
			auditText.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", ""), " ", "")))
		}
	}
	haystacks := map[string]string{"logs": e.logs.String(), "audit": auditText.String()}
	for _, f := range []string{e.dbPath, e.dbPath + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		haystacks[f] = string(b)
	}
	if !strings.Contains(haystacks["logs"], "access key issued") {
		t.Fatalf("logs were not captured")
	}
	for _, s := range secrets {
		if len(s) < 16 {
			t.Fatalf("secret %d chars: too short to grep for", len(s))
		}
		for where, text := range haystacks {
			if strings.Contains(text, s) || strings.Contains(text, s[:16]) {
				t.Errorf("a secret appears in %s", where)
			}
		}
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, y := range x {
			b.WriteString(toString(y))
		}
		return b.String()
	}
	return ""
}
