package broker

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/db"
)

// userRowTTL bounds how long a users row (enrolment, disabled flag, overrides) is reused
// across requests. Every change to the users table goes through this daemon, which
// forgets the cache when it writes, so the TTL only bounds what a change made behind the
// daemon's back (sqlite3 by hand) takes to show.
const userRowTTL = 2 * time.Second

// maxUserRows bounds the cache; past it, it starts over.
const maxUserRows = 4096

type userRowEntry struct {
	row db.User
	ok  bool
}

// userRows caches GetUser per name: every request resolves its caller's users row, and
// reading it costs more than the rest of a quota request.
type userRows struct {
	now   func() time.Time
	cache *ttlCache[string, userRowEntry]
}

func newUserRows(now func() time.Time) *userRows {
	return &userRows{now: now, cache: newTTLCache[string, userRowEntry](userRowTTL, maxUserRows)}
}

// get returns name's users row (ok false if there is none), from the cache when fresh.
func (u *userRows) get(ctx context.Context, d *db.DB, name string) (db.User, bool, error) {
	now := u.now()
	if e, hit := u.cache.get(name, now); hit {
		return e.row, e.ok, nil
	}
	row, ok, err := d.GetUser(ctx, name)
	if err != nil {
		return db.User{}, false, err
	}
	u.cache.put(name, userRowEntry{row: row, ok: ok}, now)
	return row, ok, nil
}

// forget drops name's entry, or every entry when name is "": called after each write
// to the users table.
func (u *userRows) forget(name string) {
	if name == "" {
		u.cache.clear()
		return
	}
	u.cache.forget(name)
}
