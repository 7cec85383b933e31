package iamsim

import (
	"testing"
	"time"
)

func TestKnowsKey(t *testing.T) {
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	s := New(func() time.Time { return now })
	s.SetPropagationDelay(10 * time.Second)
	s.mu.Lock()
	s.keys["AKIAKNOWN"] = &accessKey{id: "AKIAKNOWN", user: "tollgate-alice", status: "Active", created: now}
	s.keys["AKIAOFF"] = &accessKey{id: "AKIAOFF", user: "tollgate-alice", status: "Inactive", created: now.Add(-time.Hour)}
	s.mu.Unlock()
	for _, c := range []struct {
		name  string
		id    string
		after time.Duration
		want  bool
	}{
		{"unknown key", "AKIASTRANGER", time.Hour, false},
		{"before propagation", "AKIAKNOWN", 5 * time.Second, false},
		{"after propagation", "AKIAKNOWN", 10 * time.Second, true},
		{"inactive key", "AKIAOFF", time.Hour, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			now = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).Add(c.after)
			if got := s.KnowsKey(c.id); got != c.want {
				t.Errorf("KnowsKey(%s) at +%s = %v, want %v", c.id, c.after, got, c.want)
			}
		})
	}
}
