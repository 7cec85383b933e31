package balancer

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/fleet"
)

// Fallbacks when the spot price is above the bid.
const (
	FallbackWait     = "wait"      // launch nothing until the price falls (GBrowse)
	FallbackOnDemand = "on-demand" // launch on-demand slaves, and move back to spot later
)

// TagReplaces marks a spot slave launched to replace an on-demand one.
const TagReplaces = "tollgate:replaces"

// offer is where one slave can be launched.
type offer struct {
	typ, zone, market string
}

func (o offer) String() string {
	z := o.zone
	if z == "" {
		z = "any zone"
	}
	return fmt.Sprintf("%s %s in %s", o.market, o.typ, z)
}

// offers lists where a slave may go now, best first: spot offers at or under the bid
// (cheapest zone first, types in configured order), else, with fallback on-demand, the
// on-demand offers. Offers that failed for capacity within the backoff are left out.
// why says what was left out and why.
func (pr *poolRun) offers(ctx context.Context, now time.Time) (list []offer, market string, best float64, why []string) {
	avail := func(o offer) bool {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		until, ok := pr.unavailable[o]
		return !ok || !now.Before(until)
	}
	zones := pr.cfg.AvailabilityZones
	if pr.cfg.Bid() > 0 {
		prices, err := pr.s.o.Cloud.CurrentSpotPrices(ctx, pr.cfg.Region, pr.cfg.InstanceTypes, zones)
		if err != nil {
			why = append(why, "cannot read spot prices: "+err.Error())
		}
		best = -1
		for _, t := range pr.cfg.InstanceTypes {
			byZone := prices[t]
			zs := make([]string, 0, len(byZone))
			for z := range byZone {
				if len(zones) == 0 || slices.Contains(zones, z) {
					zs = append(zs, z)
				}
			}
			sort.Slice(zs, func(i, j int) bool {
				if byZone[zs[i]] != byZone[zs[j]] {
					return byZone[zs[i]] < byZone[zs[j]]
				}
				return zs[i] < zs[j]
			})
			for _, z := range zs {
				p := byZone[z]
				if best < 0 || p < best {
					best = p
				}
				o := offer{typ: t, zone: z, market: MarketSpot}
				if p <= pr.cfg.Bid() && avail(o) {
					list = append(list, o)
				}
			}
		}
		if len(list) > 0 {
			return list, MarketSpot, best, why
		}
		if best >= 0 {
			why = append(why, fmt.Sprintf("spot price %s above the bid %s for every configured type and zone", usd(best), usd(pr.cfg.Bid())))
		}
		if pr.cfg.Fallback != FallbackOnDemand {
			return nil, marketWaiting, best, append(why, "waiting for the spot price to fall (fallback = \"wait\")")
		}
	}
	odZones := zones
	if len(odZones) == 0 {
		odZones = []string{""}
	}
	for _, t := range pr.cfg.InstanceTypes {
		for _, z := range odZones {
			if o := (offer{typ: t, zone: z, market: MarketOnDemand}); avail(o) {
				list = append(list, o)
			}
		}
	}
	if len(list) == 0 {
		why = append(why, "every configured type and zone failed for capacity lately: waiting for the backoff")
	}
	return list, MarketOnDemand, best, why
}

func usd(p float64) string { return "$" + strconv.FormatFloat(p, 'f', -1, 64) + "/h" }

// launch launches n slaves, one at a time, each in the best offer; an offer refused for
// capacity is marked unavailable for capacity_backoff and the next is tried.
func (pr *poolRun) launch(ctx context.Context, now time.Time, n int, group string) (ids []string, why []string) {
	if n <= 0 {
		return nil, nil
	}
	list, market, best, ow := pr.offers(ctx, now)
	why = append(why, ow...)
	pr.noteMarket(ctx, market, best)
	for range n {
		launched := false
		for len(list) > 0 && !launched {
			o := list[0]
			id, err := pr.launchOne(ctx, o, group, "")
			switch {
			case err == nil:
				ids, launched = append(ids, id), true
			case cloud.IsCapacityError(err) || cloud.IsSpotPriceTooLow(err):
				pr.mu.Lock()
				pr.unavailable[o] = now.Add(pr.cfg.CapacityBackoff)
				pr.mu.Unlock()
				why = append(why, fmt.Sprintf("no capacity for %s (%s): trying the next offer, this one again after %s", o, cloud.Code(err), pr.cfg.CapacityBackoff))
				list = list[1:]
			default:
				return ids, append(why, fmt.Sprintf("launch of %s failed: %v", o, err))
			}
		}
		if !launched {
			if len(ids) < n {
				why = append(why, fmt.Sprintf("launched %d of %d: no offer left", len(ids), n))
			}
			break
		}
	}
	return ids, why
}

// launchOne launches one slave in o through the launch path; replaces names the
// on-demand slave a spot one replaces.
func (pr *poolRun) launchOne(ctx context.Context, o offer, group, replaces string) (string, error) {
	vols, err := pr.dataVolumes(ctx)
	if err != nil {
		return "", err
	}
	image, err := pr.imageID(ctx)
	if err != nil {
		return "", err
	}
	price := 0.0
	if p, err := pr.s.o.OnDemand(pr.cfg.Region, o.typ); err == nil {
		price = p
	}
	tags := map[string]string{TagPool: pr.cfg.Name}
	if replaces != "" {
		tags[TagReplaces] = replaces
	}
	spec := fleet.Spec{Purpose: tollgate.PurposeBalancer, Actor: tollgate.SystemActor(tollgate.SysBalancer),
		Owner: Owner(pr.cfg.Name), UID: -1, Region: pr.cfg.Region, Type: o.typ, Image: image, Count: 1,
		Name: "tollgate-balancer-" + pr.cfg.Name, KeyPair: pr.keyPair, SecurityGroups: []string{group},
		Subnet: pr.cfg.Subnet, AvailabilityZone: o.zone, UserData: pr.userData, DataVolumes: vols, Tags: tags,
		PriceHourly: price}
	if o.market == MarketSpot {
		spec.Spot, spec.SpotMaxPrice = true, strconv.FormatFloat(pr.cfg.Bid(), 'f', -1, 64)
		if sp := pr.spotNow(); sp > 0 {
			spec.PriceHourly = sp
		}
	}
	_, rows, err := pr.s.o.Fleet.Launch(ctx, spec)
	if err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("the launch returned no instance")
	}
	return rows[0].ID, nil
}

func (pr *poolRun) spotNow() float64 {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.spotPrice
}

// dataVolumes are the data_snapshots as volumes, sized from the snapshots (looked up
// once: a missing snapshot refuses the launch with its id).
func (pr *poolRun) dataVolumes(ctx context.Context) ([]cloud.DataVolume, error) {
	if len(pr.cfg.DataSnapshots) == 0 {
		return nil, nil
	}
	pr.mu.Lock()
	have := pr.volumes
	pr.mu.Unlock()
	if have != nil {
		return have, nil
	}
	snaps, err := pr.s.o.Cloud.DescribeSnapshots(ctx, pr.cfg.Region, pr.cfg.DataSnapshots)
	if err != nil {
		return nil, fmt.Errorf("data_snapshots: %w", err)
	}
	size := map[string]int{}
	for _, s := range snaps {
		size[s.ID] = s.SizeGiB
	}
	var vols []cloud.DataVolume
	for i, id := range pr.cfg.DataSnapshots {
		sz, ok := size[id]
		if !ok {
			return nil, fmt.Errorf("data_snapshots: snapshot %s not found in %s", id, pr.cfg.Region)
		}
		vols = append(vols, cloud.DataVolume{Device: DataDevice(i), SnapshotID: id, SizeGiB: sz})
	}
	pr.mu.Lock()
	pr.volumes = vols
	pr.mu.Unlock()
	return vols, nil
}

// imageID is the pool's image id: image_id may name the AMI (GBrowse's example
// config says "GBrowse-2.54"), resolved once to the newest image of that name.
func (pr *poolRun) imageID(ctx context.Context) (string, error) {
	if strings.HasPrefix(pr.cfg.Image, "ami-") {
		return pr.cfg.Image, nil
	}
	pr.mu.Lock()
	id := pr.image
	pr.mu.Unlock()
	if id != "" {
		return id, nil
	}
	imgs, err := pr.s.o.Cloud.DescribeImages(ctx, pr.cfg.Region, nil, []string{pr.cfg.Image})
	if err != nil {
		return "", fmt.Errorf("look up image %q in %s: %w", pr.cfg.Image, pr.cfg.Region, err)
	}
	if len(imgs) == 0 {
		return "", fmt.Errorf("no image named %q in %s", pr.cfg.Image, pr.cfg.Region)
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].CreatedAt.After(imgs[j].CreatedAt) })
	pr.mu.Lock()
	pr.image = imgs[0].ID
	pr.mu.Unlock()
	return imgs[0].ID, nil
}

// DataDevice is the device name of the i-th data snapshot: /dev/sdg, /dev/sdh, …
// (GBrowse used /dev/sdg1…, which current instance types do not accept).
func DataDevice(i int) string { return "/dev/sd" + string(rune('g'+i)) }

// noteMarket remembers where new slaves go and audits a move between spot and
// on-demand (or to waiting), with the price that caused it.
func (pr *poolRun) noteMarket(ctx context.Context, market string, best float64) {
	pr.mu.Lock()
	prev := pr.market
	pr.market = market
	if best >= 0 {
		pr.spotPrice = best
	}
	pr.mu.Unlock()
	if prev == market {
		return
	}
	reason := fmt.Sprintf("new slaves move from %s to %s (best spot price %s, bid %s)", prev, market, usd(best), usd(pr.cfg.Bid()))
	pr.s.log.Info("balancer market changed", logPool, pr.cfg.Name, "from", prev, "to", market)
	_ = pr.s.o.Audit.Record(ctx, nil, tollgate.SystemActor(tollgate.SysBalancer), audit.Entry{Action: ActionFallback,
		Target: pr.cfg.Name, Decision: audit.Done, Reason: reason,
		Detail: map[string]any{"pool": pr.cfg.Name, "from": prev, "to": market, "spot_price": best, "bid": pr.cfg.Bid()}})
}

// backToSpot moves an on-demand pool back to spot once the price allows, one slave at a
// time: a spot slave is launched to replace an on-demand one, which is terminated once
// the spot slave is ready (until then it keeps serving, and the decision counts it as
// draining so the pair is not scaled down).
func (pr *poolRun) backToSpot(ctx context.Context, now time.Time, slaves []Slave, group string) (launched, terminated, why []string) {
	if pr.cfg.Bid() <= 0 || pr.cfg.Fallback != FallbackOnDemand {
		return nil, nil, nil
	}
	pr.mu.Lock()
	pending := map[string]string{}
	for spot, od := range pr.replacing {
		pending[spot] = od
	}
	pr.mu.Unlock()
	state := map[string]Slave{}
	for _, sl := range slaves {
		state[sl.ID] = sl
	}
	for spot, od := range pending {
		sl, ok := state[spot]
		switch {
		case !ok || sl.State == StateGone:
			pr.mu.Lock()
			delete(pr.replacing, spot)
			pr.mu.Unlock()
			why = append(why, fmt.Sprintf("replacement %s of on-demand %s is gone: keeping %s", spot, od, od))
		case sl.State == StateReady && sl.Healthy:
			t := pr.terminate(ctx, []string{od}, fmt.Sprintf("balancer: replaced by spot slave %s (the spot price is back under the bid)", spot))
			terminated = append(terminated, t...)
			why = append(why, fmt.Sprintf("spot slave %s is ready: on-demand %s terminated", spot, od))
		}
	}
	if len(pending) > 0 {
		return nil, terminated, why
	}
	var od *Slave
	for i := range slaves {
		if sl := slaves[i]; sl.Market == MarketOnDemand && (sl.State == StateReady || sl.State == StateBooting) {
			od = &slaves[i]
			break
		}
	}
	if od == nil {
		return nil, terminated, why
	}
	list, market, best, _ := pr.offers(ctx, now)
	pr.noteMarket(ctx, market, best)
	if market != MarketSpot || len(list) == 0 {
		return nil, terminated, why
	}
	id, err := pr.launchOne(ctx, list[0], group, od.ID)
	if err != nil {
		return nil, terminated, append(why, fmt.Sprintf("spot replacement for on-demand %s failed: %v", od.ID, err))
	}
	pr.mu.Lock()
	pr.replacing[id] = od.ID
	pr.mu.Unlock()
	return []string{id}, terminated, append(why, fmt.Sprintf("spot price %s is under the bid again: %s launched to replace on-demand %s", usd(best), id, od.ID))
}
