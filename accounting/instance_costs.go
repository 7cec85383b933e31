package accounting

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// ownerChunk bounds the ids in one owner lookup, well under SQLite's variable limit.
const ownerChunk = 500

// InstanceCosts is each instance's cost over the current budget period of its owner:
// the same window and cost rules as Usage, so `tollgate ls` and `tollgate usage` agree.
// An instance launched before the period shows only what it cost since the period
// began. Untracked instances (no owner) are costed over the calendar month. Instances
// that cost nothing this period, or are unknown, are absent from the map.
func (s *Service) InstanceCosts(ctx context.Context, ids []string) (map[string]float64, error) {
	out := make(map[string]float64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	owners, err := s.owners(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("instance costs: %w", err)
	}
	now := s.now()
	for owner, want := range owners {
		var start time.Time
		if owner == "" {
			start, _ = s.PeriodFor(quota.Policy{BudgetPeriod: quota.PeriodMonth}, owner, now)
		} else {
			pol, err := s.policy(ctx, owner)
			if err != nil {
				return nil, fmt.Errorf("instance costs of %s: %w", owner, err)
			}
			start, _ = s.PeriodFor(pol, owner, now)
		}
		err := s.opts.DB.Read(ctx, func(tx *db.Tx) error {
			d, err := loadCosts(ctx, tx, scope{owner: owner}, start.Unix())
			if err != nil {
				return err
			}
			ss, err := loadSpot(ctx, tx, d.Periods, now.Unix())
			if err != nil {
				return err
			}
			c := &coster{prices: s.prices, spot: ss, now: now.Unix()}
			for id, ic := range instanceCosts(c, d, start.Unix(), now.Unix()) {
				if want[id] {
					out[id] = ic.CostUSD
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("instance costs of %q: %w", owner, err)
		}
	}
	return out, nil
}

// PeriodFor is the budget period of pol at now, the one computation admission, usage,
// listings and budget enforcement share: a period that cannot be computed (a term with
// no accounting.term_start) falls back to the calendar month, logged with user.
func (s *Service) PeriodFor(pol quota.Policy, user string, now time.Time) (start, end time.Time) {
	return s.periodFor(pol, user, now)
}

// owners groups ids by owner ("" for untracked instances); unknown ids are left out.
func (s *Service) owners(ctx context.Context, ids []string) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	err := s.opts.DB.Read(ctx, func(tx *db.Tx) error {
		for len(ids) > 0 {
			n := min(len(ids), ownerChunk)
			chunk := ids[:n]
			ids = ids[n:]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			rows, err := tx.QueryContext(ctx, `SELECT id, coalesce(owner, '') FROM instances WHERE id IN (?`+
				strings.Repeat(", ?", n-1)+`)`, args...)
			if err != nil {
				return fmt.Errorf("owners: %w", err)
			}
			for rows.Next() {
				var id, owner string
				if err := rows.Scan(&id, &owner); err != nil {
					rows.Close()
					return fmt.Errorf("owners: %w", err)
				}
				if out[owner] == nil {
					out[owner] = map[string]bool{}
				}
				out[owner][id] = true
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return fmt.Errorf("owners: %w", err)
			}
		}
		return nil
	})
	return out, err
}
