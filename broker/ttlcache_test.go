package broker

import (
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		setup  func(c *ttlCache[string, int])
		at     time.Time
		key    string
		want   int
		wantOK bool
	}{
		{name: "fresh", setup: func(c *ttlCache[string, int]) { c.put("a", 1, t0) }, at: t0.Add(time.Second), key: "a", want: 1, wantOK: true},
		{name: "expired at ttl", setup: func(c *ttlCache[string, int]) { c.put("a", 1, t0) }, at: t0.Add(time.Minute), key: "a"},
		{name: "clock set back", setup: func(c *ttlCache[string, int]) { c.put("a", 1, t0) }, at: t0.Add(-time.Second), key: "a"},
		{name: "missing", setup: func(c *ttlCache[string, int]) {}, at: t0, key: "a"},
		{name: "forgotten", setup: func(c *ttlCache[string, int]) { c.put("a", 1, t0); c.forget("a") }, at: t0, key: "a"},
		{name: "cleared", setup: func(c *ttlCache[string, int]) { c.put("a", 1, t0); c.clear() }, at: t0, key: "a"},
		{name: "full starts over", setup: func(c *ttlCache[string, int]) { c.put("a", 1, t0); c.put("b", 2, t0); c.put("c", 3, t0) }, at: t0, key: "a"},
		{name: "newest kept after reset", setup: func(c *ttlCache[string, int]) { c.put("a", 1, t0); c.put("b", 2, t0); c.put("c", 3, t0) }, at: t0, key: "c", want: 3, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTTLCache[string, int](time.Minute, 2)
			tt.setup(c)
			got, ok := c.get(tt.key, tt.at)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("get(%q) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
