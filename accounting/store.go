package accounting

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// insertBatch is how many rows one INSERT statement of a snapshot writes at most: fewer
// statements journal fewer pages (each keeps a statement journal), and 256 rows of 15
// parameters stay below SQLite's limit of 32,766.
const insertBatch = 256

// goneWindow is how long after its end an instance is still loaded for a snapshot:
// EC2 keeps terminated instances visible for about an hour.
const goneWindow = 2 * time.Hour

// unixTime converts a stored Unix second to a time (zero stays zero).
func unixTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// secTime formats a Unix second for a TEXT timestamp column; whole seconds only, so the
// column stays lexically ordered.
func secTime(s int64) string { return db.Time(unixTime(s)) }

// parseUnix parses a TEXT timestamp column into Unix seconds (0 when empty or bad). The
// common whole-UTC-second form is decoded by hand: reports parse a term's worth of them.
func parseUnix(s string) int64 {
	if len(s) >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
		(s[19] == 'Z' || s[19] == '.') && s[len(s)-1] == 'Z' {
		n := func(a, b int) int {
			v := 0
			for _, c := range s[a:b] {
				if c < '0' || c > '9' {
					return -1
				}
				v = v*10 + int(c-'0')
			}
			return v
		}
		y, mo, d, h, mi, sec := n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19)
		if y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h < 24 && mi >= 0 && mi < 60 && sec >= 0 && sec < 60 {
			if t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC); t.Day() == d {
				return t.Unix()
			}
			return 0
		}
	}
	t, err := db.ParseTime(s)
	if err != nil || t.IsZero() {
		return 0
	}
	return t.Unix()
}

// loadRegionState reads what a snapshot of region is compared with.
func loadRegionState(ctx context.Context, q db.Querier, region string, at int64) (*regionState, error) {
	st := &regionState{Region: region, Instances: map[string]*knownInstance{}, Volumes: map[string]bool{}}
	goneSince := secTime(at - int64(goneWindow/time.Second))
	var lastOK, lastRun sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT max(CASE WHEN ok = 1 THEN last_s END), max(last_s)
		FROM acct_region_runs WHERE region = ?`, region).Scan(&lastOK, &lastRun); err != nil {
		return nil, fmt.Errorf("load region runs: %w", err)
	}
	st.LastOK, st.LastRun = lastOK.Int64, lastRun.Int64

	rows, err := q.QueryContext(ctx, `SELECT id, coalesce(owner, ''), type, state, public_ip, private_ip,
		tags, launched_at, last_seen, gone_at
		FROM instances WHERE region = ? AND (gone_at = '' OR gone_at >= ?)`, region, goneSince)
	if err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	for rows.Next() {
		k := &knownInstance{}
		var launched, seen, gone string
		if err := rows.Scan(&k.ID, &k.Owner, &k.Type, &k.State, &k.PublicIP, &k.PrivateIP, &k.Tags,
			&launched, &seen, &gone); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load instances: %w", err)
		}
		k.LaunchedAt, k.LastSeen, k.Gone = parseUnix(launched), parseUnix(seen), gone != ""
		st.Instances[k.ID] = k
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}

	rows, err = q.QueryContext(ctx, `SELECT p.instance_id, p.id, p.start_s, coalesce(p.end_s, 0), p.end_how, p.estimated
		FROM acct_periods p JOIN instances i ON i.id = p.instance_id
		WHERE i.region = ? AND (i.gone_at = '' OR i.gone_at >= ?)
		  AND p.start_s = (SELECT max(start_s) FROM acct_periods q WHERE q.instance_id = p.instance_id)`,
		region, goneSince)
	if err != nil {
		return nil, fmt.Errorf("load periods: %w", err)
	}
	for rows.Next() {
		var id string
		pr := &periodRow{}
		if err := rows.Scan(&id, &pr.ID, &pr.Start, &pr.End, &pr.How, &pr.Estimated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load periods: %w", err)
		}
		if k := st.Instances[id]; k != nil {
			k.Last = pr
			if pr.End == 0 {
				k.Open = pr
			}
		}
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("load periods: %w", err)
	}

	rows, err = q.QueryContext(ctx, `SELECT instance_id, last_seen_s FROM acct_missing WHERE region = ?`, region)
	if err != nil {
		return nil, fmt.Errorf("load missing instances: %w", err)
	}
	for rows.Next() {
		var id string
		var seen int64
		if err := rows.Scan(&id, &seen); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load missing instances: %w", err)
		}
		if k := st.Instances[id]; k != nil {
			k.Missing, k.MissingLastSeen = true, seen
		}
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("load missing instances: %w", err)
	}

	rows, err = q.QueryContext(ctx, `SELECT volume_id FROM acct_volumes WHERE region = ? AND end_s IS NULL`, region)
	if err != nil {
		return nil, fmt.Errorf("load volumes: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load volumes: %w", err)
		}
		st.Volumes[id] = true
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("load volumes: %w", err)
	}
	return st, nil
}

// applyPlan writes a snapshot's plan, the volumes and spot prices fetched for it, and
// the region's run record, all inside tx. It returns the rows written.
func applyPlan(ctx context.Context, tx *db.Tx, st *regionState, p *regionPlan, vols []cloud.Volume,
	spot []cloud.SpotPrice, at int64, seen int) (int, error) {
	n := 0
	// A first snapshot writes a row or three per instance: prepare each statement once.
	stmts := map[string]*db.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	exec := func(query string, args ...any) error {
		st := stmts[query]
		if st == nil {
			var err error
			if st, err = tx.PrepareContext(ctx, query); err != nil {
				return err
			}
			stmts[query] = st
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		k, _ := res.RowsAffected()
		n += int(k)
		return nil
	}
	atText := secTime(at)
	// A first snapshot inserts a row or three per instance: one multi-row INSERT per
	// batch spends far less per row than a statement per row.
	insert := func(what, head, row, tail string, rows [][]any) error {
		for len(rows) > 0 {
			k := min(len(rows), insertBatch)
			q := head + strings.Repeat(row+", ", k-1) + row + " " + tail
			args := make([]any, 0, k*len(rows[0]))
			for _, r := range rows[:k] {
				args = append(args, r...)
			}
			if err := exec(q, args...); err != nil {
				return fmt.Errorf("%s (%d rows from %v): %w", what, k, rows[0][0], err)
			}
			rows = rows[k:]
		}
		return nil
	}
	// Instances seen for the first time are inserted after their periods and volumes,
	// carrying their packs: the pack triggers then find no instance row to update, and
	// the instance row's own trigger trusts packs an insert brings (see migration 0007).
	// The row-by-row triggers cost a third of a first snapshot's writes.
	newInst := make(map[string]*newPacks, len(p.Inserts))
	for _, o := range p.Inserts {
		newInst[o.ID] = &newPacks{}
	}
	var rows [][]any
	for _, u := range p.Updates {
		q := `UPDATE instances SET state = ?, type = ?, public_ip = ?, private_ip = ?, tags = ?, last_seen = ?`
		if u.Ungone {
			q += `, gone_at = ''`
		}
		if err := exec(q+` WHERE id = ?`, u.State, u.Type, u.PublicIP, u.PrivIP, u.Tags, atText, u.ID); err != nil {
			return n, fmt.Errorf("update instance %s: %w", u.ID, err)
		}
	}
	for _, e := range p.Ends {
		if err := exec(`UPDATE acct_periods SET end_s = ?, end_how = ?, estimated = ? WHERE id = ? AND end_s IS NULL`,
			e.End, e.How, e.Estimated, e.ID); err != nil {
			return n, fmt.Errorf("close period: %w", err)
		}
	}
	for _, id := range p.Reopen {
		if err := exec(`UPDATE acct_periods SET end_s = NULL, end_how = '', estimated = 0 WHERE id = ?`, id); err != nil {
			return n, fmt.Errorf("reopen period: %w", err)
		}
	}
	rows = rows[:0]
	for _, np := range p.Periods {
		var end any
		if np.End > 0 {
			end = np.End
		}
		rows = append(rows, []any{np.InstanceID, st.Region, np.AZ, np.Type, np.Spot, np.Start, end, np.How, np.Estimated})
		if pk := newInst[np.InstanceID]; pk != nil {
			pk.periods = append(pk.periods, periodPackItem(np))
		}
	}
	if err := insert("open periods", `INSERT INTO acct_periods(instance_id, region, az, type, spot, start_s, end_s, end_how, estimated)
			VALUES `, `(?, ?, ?, ?, ?, ?, ?, ?, ?)`, `ON CONFLICT(instance_id, start_s) DO NOTHING`, rows); err != nil {
		return n, err
	}
	need := map[string]bool{}
	for _, id := range p.NeedVolumes {
		need[id] = true
	}
	rows = rows[:0]
	for _, v := range vols {
		if !need[v.InstanceID] || st.Volumes[v.ID] {
			continue
		}
		start := v.CreatedAt.Unix()
		if v.CreatedAt.IsZero() {
			start = at
		}
		rows = append(rows, []any{v.ID, v.InstanceID, st.Region, v.Type, v.SizeGB, start})
		if pk := newInst[v.InstanceID]; pk != nil {
			pk.volumes = append(pk.volumes, volumePackItem(start, v.SizeGB, v.Type))
		}
	}
	if err := insert("record volumes", `INSERT INTO acct_volumes(volume_id, instance_id, region, type, size_gb, start_s) VALUES `,
		`(?, ?, ?, ?, ?, ?)`, `ON CONFLICT DO NOTHING`, rows); err != nil {
		return n, err
	}
	rows = rows[:0]
	for _, o := range p.Inserts {
		pk := newInst[o.ID]
		rows = append(rows, []any{o.ID, st.Region, o.Type, o.ImageID, o.Tags[cloud.TagName], o.Tags[cloud.TagPurpose], o.Spot, o.State,
			o.PublicIP, o.PrivateIP, db.Time(o.LaunchTime), atText, tagsJSON(o.Tags),
			strings.Join(pk.periods, ";"), strings.Join(pk.volumes, ";")})
	}
	if err := insert("insert untracked instances", `INSERT INTO instances(id, region, type, image, name, purpose, spot, tracked, state,
			public_ip, private_ip, launched_at, last_seen, tags, pack_periods, pack_volumes) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`, `ON CONFLICT(id) DO NOTHING`, rows); err != nil {
		return n, err
	}
	for _, g := range p.Gone {
		q := `UPDATE instances SET gone_at = ?`
		if g.Estimated {
			// A vanished instance no longer exists: it counts as terminated from now on.
			q += `, state = CASE WHEN state IN ('pending', 'running', 'stopping', 'stopped') THEN 'terminated' ELSE state END`
		}
		if err := exec(q+` WHERE id = ? AND gone_at = ''`, secTime(g.At), g.ID); err != nil {
			return n, fmt.Errorf("mark %s gone: %w", g.ID, err)
		}
		if err := exec(`UPDATE acct_volumes SET end_s = CASE WHEN start_s > ? THEN start_s ELSE ? END, estimated = ?
			WHERE instance_id = ? AND end_s IS NULL`, g.At, g.At, g.Estimated, g.ID); err != nil {
			return n, fmt.Errorf("close volumes of %s: %w", g.ID, err)
		}
	}
	for _, m := range p.Miss {
		if err := exec(`INSERT INTO acct_missing(instance_id, region, last_seen_s) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, m.ID, st.Region, m.LastSeen); err != nil {
			return n, fmt.Errorf("note missing %s: %w", m.ID, err)
		}
	}
	found := p.Found
	for _, g := range p.Gone {
		found = append(found, g.ID)
	}
	for _, id := range found {
		if err := exec(`DELETE FROM acct_missing WHERE instance_id = ?`, id); err != nil {
			return n, fmt.Errorf("forget missing %s: %w", id, err)
		}
	}
	for _, sp := range spot {
		if err := exec(`INSERT INTO acct_spot_prices(region, type, az, at_s, price) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, st.Region, sp.Type, sp.AvailabilityZone, sp.At.Unix(), sp.USDPerHour); err != nil {
			return n, fmt.Errorf("record spot price: %w", err)
		}
	}
	k, err := recordRun(ctx, tx, st.Region, at, true, "", seen)
	return n + k, err
}

// newPacks are the pack items of an instance seen for the first time.
type newPacks struct{ periods, volumes []string }

// periodPackItem is a new period as migration 0007's triggers pack it:
// start_s,end_s(0 = open),estimated,spot,type,az.
func periodPackItem(p newPeriod) string {
	return fmt.Sprintf("%d,%d,%d,%d,%s,%s", p.Start, p.End, boolInt(p.Estimated), boolInt(p.Spot), p.Type, p.AZ)
}

// volumePackItem is a newly recorded (open, not estimated) volume as migration 0007's
// triggers pack it: start_s,end_s(0 = open),estimated,size_gb,type.
func volumePackItem(start int64, sizeGB int, typ string) string {
	return fmt.Sprintf("%d,0,0,%d,%s", start, sizeGB, typ)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recordRun notes one snapshot of region: it extends the region's latest run when the
// outcome is the same, so storage grows with changes of outcome only.
func recordRun(ctx context.Context, q db.Querier, region string, at int64, ok bool, errText string, seen int) (int, error) {
	var id int64
	var lastOK bool
	var lastErr string
	err := q.QueryRowContext(ctx, `SELECT id, ok, error FROM acct_region_runs WHERE region = ? ORDER BY id DESC LIMIT 1`,
		region).Scan(&id, &lastOK, &lastErr)
	switch {
	case err == nil && lastOK == ok && lastErr == errText:
		_, err = q.ExecContext(ctx, `UPDATE acct_region_runs SET last_s = CASE WHEN last_s > ? THEN last_s ELSE ? END,
			runs = runs + 1, instances = ? WHERE id = ?`, at, at, seen, id)
	case err == nil || err == sql.ErrNoRows:
		_, err = q.ExecContext(ctx, `INSERT INTO acct_region_runs(region, ok, error, first_s, last_s, instances)
			VALUES (?, ?, ?, ?, ?, ?)`, region, ok, errText, at, at, seen)
	}
	if err != nil {
		return 0, fmt.Errorf("record %s snapshot: %w", region, err)
	}
	return 1, nil
}
