package accounting

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// volumeFilterMax is how many instance ids one filtered DescribeVolumes call carries
// (EC2 accepts 200 values per filter).
const volumeFilterMax = 200

// regionOutcome is one region's part of a collector run.
type regionOutcome struct {
	res                     RegionResult
	rows, untracked, closed int
}

// Collect runs one collector pass over every region: all instances (not only ours) are
// compared with what the database knows and only changes are written, one BEGIN
// IMMEDIATE transaction per region. A failed region is recorded and closes nothing.
// It fails only when every region failed; check Regions for partial failures.
func (s *Service) Collect(ctx context.Context) (CollectResult, error) {
	// One collector pass at a time, on every host (the daemons' leader, a cron
	// collector, an admin's collect).
	unlock, err := s.opts.DB.Lock(ctx, "collect")
	if err != nil {
		return CollectResult{}, err
	}
	defer unlock()
	res := CollectResult{At: s.now()}
	outs := make([]regionOutcome, len(s.opts.Regions))
	var wg sync.WaitGroup
	for i, region := range s.opts.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = s.collectRegion(ctx, region)
		}()
	}
	wg.Wait()
	var errs []error
	for _, o := range outs {
		res.Regions = append(res.Regions, o.res)
		res.Instances += o.res.Instances
		res.RowsWritten += o.rows
		res.Untracked += o.untracked
		res.Closed += o.closed
		if !o.res.OK {
			errs = append(errs, fmt.Errorf("%s: %s", o.res.Region, o.res.Error))
		}
	}
	s.mu.Lock()
	s.lastCollect = res.At
	s.mu.Unlock()
	s.log.Info("collected", slog.Int(logKeyInstances, res.Instances), slog.Int(logKeyRows, res.RowsWritten),
		slog.Int(logKeyCount, len(errs)))
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("collect: %w", err)
	}
	if len(errs) > 0 && len(errs) == len(outs) {
		return res, fmt.Errorf("collect: every region failed: %w", errors.Join(errs...))
	}
	return res, nil
}

// collectRegion snapshots one region. Cloud calls happen outside the write transaction;
// inside it the plan is recomputed from fresh state, so a cron collector and the daemon
// collecting at once both apply cleanly, and an older snapshot than the last one applied
// is dropped.
func (s *Service) collectRegion(ctx context.Context, region string) regionOutcome {
	out := regionOutcome{res: RegionResult{Region: region}}
	at := s.now().Truncate(time.Second)
	atS := at.Unix()
	fail := func(err error) regionOutcome {
		out.res.Error = err.Error()
		s.log.Warn("collect region failed", slog.String(logKeyRegion, region), slog.String(logKeyError, err.Error()))
		short := cloud.Code(err)
		if short == "" {
			short = firstLine(err.Error())
		}
		werr := s.opts.DB.Immediate(ctx, func(tx *db.Tx) error {
			n, err := recordRun(ctx, tx, region, atS, false, short, 0)
			out.rows += n
			return err
		})
		if werr != nil {
			s.log.Warn("record failed snapshot", slog.String(logKeyRegion, region), slog.String(logKeyError, werr.Error()))
		}
		return out
	}
	// A region never snapshotted is nearly all new instances, each with volumes to
	// record: list its volumes while its instances are listed, not after (with EC2's
	// latency that is pages of round trips saved). A failed listing falls back below.
	var allVols func() ([]cloud.Volume, error)
	if first, err := s.firstSnapshot(ctx, region); err == nil && first {
		vctx, cancel := context.WithCancel(ctx)
		allVols = s.prefetchVolumes(vctx, region)
		defer func() { cancel(); _, _ = allVols() }() // nothing outlives the snapshot
	}
	insts, err := s.opts.Cloud.DescribeInstances(ctx, region, cloud.Filter{})
	if err != nil {
		return fail(err)
	}
	var st *regionState
	if err := s.opts.DB.Read(ctx, func(tx *db.Tx) error {
		var err error
		st, err = loadRegionState(ctx, tx, region, atS)
		return err
	}); err != nil {
		return fail(err)
	}
	insts, gone := s.lookupMissing(ctx, region, st, insts, atS)
	out.res.Instances = len(insts)
	adopting := s.opts.Adopt != nil
	plan := planRegion(st, insts, gone, atS, adopting)
	if len(plan.Adopt) > 0 {
		if err := s.opts.Adopt(ctx, plan.Adopt); err != nil {
			s.log.Warn("adopt instances", slog.String(logKeyRegion, region), slog.String(logKeyError, err.Error()))
		}
	}
	var vols []cloud.Volume
	if allVols != nil {
		vols, err = allVols()
	}
	if len(plan.NeedVolumes) > 0 && (allVols == nil || err != nil) {
		ids := plan.NeedVolumes
		if len(ids) > volumeFilterMax && 2*len(ids) >= len(insts) {
			// Most of the region is new (a first snapshot): listing every volume is a few
			// pages, where filtering by instance is a call per 200 ids, each one a scan of
			// the region's volumes. applyPlan keeps only the needed ones.
			ids = nil
		}
		if vols, err = s.opts.Cloud.DescribeVolumes(ctx, region, ids); err != nil {
			s.log.Warn("describe volumes", slog.String(logKeyRegion, region), slog.String(logKeyError, err.Error()))
		}
	}
	spot := s.fetchSpot(ctx, region, plan.Spot, at)

	stale := false
	// Regions fetch in parallel but write one at a time: SQLite's busy handler would
	// otherwise make the losers sleep.
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	err = s.opts.DB.Immediate(ctx, func(tx *db.Tx) error {
		st2, err := loadRegionState(ctx, tx, region, atS)
		if err != nil {
			return err
		}
		if st2.LastRun > atS {
			stale = true // a newer snapshot was applied meanwhile: ours says nothing new
			return nil
		}
		p2 := planRegion(st2, insts, gone, atS, adopting)
		n, err := applyPlan(ctx, tx, st2, p2, vols, spot, atS, len(insts))
		out.rows = n
		out.closed = p2.Vanished
		for _, o := range insts {
			if k := st2.Instances[o.ID]; (k != nil && k.Owner == "") || (k == nil && !(adopting && o.Tags[cloud.TagOwner] != "")) {
				out.untracked++
			}
		}
		return err
	})
	if err != nil {
		out.rows = 0
		return fail(fmt.Errorf("apply snapshot: %w", err))
	}
	if stale {
		s.log.Debug("snapshot superseded", slog.String(logKeyRegion, region))
	}
	out.res.OK = true
	return out
}

// firstSnapshot reports whether region has never had a successful snapshot.
func (s *Service) firstSnapshot(ctx context.Context, region string) (bool, error) {
	var n int
	err := s.opts.DB.QueryRowContext(ctx, `SELECT count(*) FROM acct_region_runs WHERE region = ? AND ok = 1`,
		region).Scan(&n)
	return n == 0, err
}

// prefetchVolumes starts listing every volume of region and returns a function that
// waits for the list.
func (s *Service) prefetchVolumes(ctx context.Context, region string) func() ([]cloud.Volume, error) {
	var (
		vols []cloud.Volume
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		if vols, err = s.opts.Cloud.DescribeVolumes(ctx, region, nil); err != nil && ctx.Err() == nil {
			s.log.Warn("describe volumes", slog.String(logKeyRegion, region), slog.String(logKeyError, err.Error()))
		}
	}()
	return func() ([]cloud.Volume, error) {
		<-done
		return vols, err
	}
}

// lookupMissing looks up, by id, live instances the region listing did not return. Found
// ones join the observations; the ids still absent are returned as gone. A just-launched
// instance is never declared gone (EC2 is eventually consistent), and a failed lookup
// declares nothing gone.
func (s *Service) lookupMissing(ctx context.Context, region string, st *regionState, insts []cloud.Instance, at int64) ([]cloud.Instance, map[string]bool) {
	seen := make(map[string]bool, len(insts))
	for _, o := range insts {
		seen[o.ID] = true
	}
	var missing []string
	for _, id := range sortedKeys(st.Instances) {
		k := st.Instances[id]
		if !k.Gone && !seen[id] && k.LaunchedAt < at-int64(vanishGrace/time.Second) {
			missing = append(missing, id)
		}
	}
	gone := map[string]bool{}
	if len(missing) == 0 {
		return insts, gone
	}
	found, err := s.opts.Cloud.DescribeInstances(ctx, region, cloud.Filter{IDs: missing})
	if err != nil {
		s.log.Warn("look up missing instances", slog.String(logKeyRegion, region), slog.String(logKeyError, err.Error()))
		return insts, gone
	}
	for _, id := range missing {
		gone[id] = true
	}
	for _, o := range found {
		delete(gone, o.ID)
		if !seen[o.ID] {
			insts = append(insts, o)
			seen[o.ID] = true
		}
	}
	return insts, gone
}

// fetchSpot fetches the spot price history the plan's spot instances need: from the
// earliest start not yet covered, or from the last recorded change. A failure leaves the
// gap to the next snapshot (costs fall back to on-demand meanwhile).
func (s *Service) fetchSpot(ctx context.Context, region string, need map[string]int64, at time.Time) []cloud.SpotPrice {
	var out []cloud.SpotPrice
	for _, typ := range sortedKeys(need) {
		from := need[typ]
		var lo, hi sql.NullInt64
		err := s.opts.DB.QueryRowContext(ctx, `SELECT min(at_s), max(at_s) FROM acct_spot_prices
			WHERE region = ? AND type = ?`, region, typ).Scan(&lo, &hi)
		if err != nil {
			s.log.Warn("read spot prices", slog.String(logKeyRegion, region), slog.String(logKeyError, err.Error()))
			continue
		}
		if lo.Valid && lo.Int64 <= from {
			from = hi.Int64 // covered up to the last change: only newer changes are news
		}
		if from > at.Unix() {
			from = at.Unix()
		}
		pts, err := s.opts.Cloud.DescribeSpotPriceHistory(ctx, region, []string{typ}, unixTime(from), at)
		if err != nil {
			s.log.Warn("describe spot prices", slog.String(logKeyRegion, region), slog.String(logKeyError, err.Error()))
			continue
		}
		out = append(out, pts...)
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
