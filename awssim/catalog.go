package awssim

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"time"
)

// InstanceType describes one simulated EC2 instance type. The table is the simulator's
// own: prices are realistic but not AWS's current list, so tests compare against
// OnDemandPrice rather than against numbers copied from a price sheet.
type InstanceType struct {
	Name         string  `json:"name"`
	VCPUs        int     `json:"vcpus"`
	MemoryMiB    int     `json:"memory_mib"`
	Architecture string  `json:"architecture"` // x86_64 or arm64
	USDPerHour   float64 `json:"usd_per_hour"` // on-demand Linux price in us-east-1
}

// DefaultRegions is the region list used when Options.Regions is empty.
var DefaultRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1",
	"eu-central-1", "eu-west-3", "ap-northeast-1", "ap-southeast-2", "sa-east-1",
}

// FixedImageID is an Ubuntu 22.04 amd64 image present in every simulated region, so
// configuration examples and tests can name one image id regardless of region.
const FixedImageID = "ami-0123456789abcdef0"

// Every seeded image but one is public and owned by "amazon" (the owner alias) under
// its publisher's fixed 12-digit owner id. The exception is a look-alike Ubuntu image
// published by a foreign account, ForeignOwnerID, for tests that owner filters refuse it.
const (
	ForeignOwnerID   = "210987654321"
	ForeignImageName = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20990101"
)

// DebianRootSizeGiB is the root snapshot size of the seeded Debian 12 image, larger than
// the 8 GiB of the others, so a client that sizes the root at least as large as the
// image's own can be tested.
const DebianRootSizeGiB = 12

// AccountID is the simulated account that owns every resource.
const AccountID = "123456789012"

// regionMultiplier scales us-east-1 prices, mimicking AWS's regional price spread.
var regionMultiplier = map[string]float64{
	"us-east-1": 1.00, "us-east-2": 1.00, "us-west-2": 1.00, "us-west-1": 1.17,
	"eu-west-1": 1.10, "eu-central-1": 1.15, "eu-west-3": 1.16,
	"ap-northeast-1": 1.25, "ap-southeast-2": 1.24, "sa-east-1": 1.55,
}

// regionAZSuffixes lists the zone letters of regions whose zones are not simply a-c,
// because real accounts see gaps (ap-northeast-1 has no "b", us-west-1 only b and c).
var regionAZSuffixes = map[string]string{
	"us-east-1":      "abcdef",
	"us-west-1":      "bc",
	"ap-northeast-1": "acd",
}

var instanceTypes []InstanceType
var instanceTypeByName = map[string]*InstanceType{}

func init() {
	add := func(family, arch string, sizes []string, vcpus []int, memGiB []float64, base []float64) {
		for i, sz := range sizes {
			instanceTypes = append(instanceTypes, InstanceType{
				Name: family + "." + sz, VCPUs: vcpus[i], MemoryMiB: int(memGiB[i] * 1024),
				Architecture: arch, USDPerHour: base[i],
			})
		}
	}
	burst := []string{"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"}
	burstCPU := []int{2, 2, 2, 2, 2, 4, 8}
	burstMem := []float64{0.5, 1, 2, 4, 8, 16, 32}
	add("t3", "x86_64", burst, burstCPU, burstMem, []float64{0.0052, 0.0104, 0.0208, 0.0416, 0.0832, 0.1664, 0.3328})
	add("t3a", "x86_64", burst, burstCPU, burstMem, []float64{0.0047, 0.0094, 0.0188, 0.0376, 0.0752, 0.1504, 0.3008})
	add("t4g", "arm64", burst, burstCPU, burstMem, []float64{0.0042, 0.0084, 0.0168, 0.0336, 0.0672, 0.1344, 0.2688})
	std := []string{"large", "xlarge", "2xlarge", "4xlarge", "8xlarge"}
	stdCPU := []int{2, 4, 8, 16, 32}
	doubling := func(p float64) []float64 { return []float64{p, 2 * p, 4 * p, 8 * p, 16 * p} }
	mem := func(perCPU float64) []float64 {
		out := make([]float64, len(stdCPU))
		for i, c := range stdCPU {
			out[i] = perCPU * float64(c)
		}
		return out
	}
	add("m5", "x86_64", std, stdCPU, mem(4), doubling(0.096))
	add("m6i", "x86_64", std, stdCPU, mem(4), doubling(0.096))
	add("m7i", "x86_64", std, stdCPU, mem(4), doubling(0.1008))
	add("c5", "x86_64", std, stdCPU, mem(2), doubling(0.085))
	add("c6i", "x86_64", std, stdCPU, mem(2), doubling(0.085))
	add("c7i", "x86_64", std, stdCPU, mem(2), doubling(0.08925))
	add("r5", "x86_64", std, stdCPU, mem(8), doubling(0.126))
	add("r6i", "x86_64", std, stdCPU, mem(8), doubling(0.126))
	gpu := []string{"xlarge", "2xlarge", "4xlarge", "8xlarge"}
	gpuCPU := []int{4, 8, 16, 32}
	add("g4dn", "x86_64", gpu, gpuCPU, []float64{16, 32, 64, 128}, []float64{0.526, 0.752, 1.204, 2.176})
	add("g5", "x86_64", gpu, gpuCPU, []float64{16, 32, 64, 128}, []float64{1.006, 1.212, 1.624, 2.448})
	for i := range instanceTypes {
		instanceTypeByName[instanceTypes[i].Name] = &instanceTypes[i]
	}
}

// InstanceTypes returns the simulated instance types (a copy), in catalogue order.
// accounting's tests check its shipped price table against it.
func InstanceTypes() []InstanceType { return append([]InstanceType(nil), instanceTypes...) }

// OnDemandPrice is the simulator's on-demand Linux price in USD per hour for a type in a
// region; the ledger bills on-demand instances at exactly this price.
func OnDemandPrice(region, instanceType string) (float64, bool) {
	t, ok := instanceTypeByName[instanceType]
	if !ok {
		return 0, false
	}
	m, ok := regionMultiplier[region]
	if !ok {
		m = 1.2
	}
	return round(t.USDPerHour*m, 4), true
}

// SpotPricePeriod is how long one synthetic spot price stays in force. Prices change at
// multiples of this period since the Unix epoch.
const SpotPricePeriod = 4 * time.Hour

// SpotPrice is the synthetic spot price (USD/h) in force at t for a type in an
// availability zone: a deterministic fraction (30%–70%) of on-demand that changes every
// SpotPricePeriod. The ledger bills spot instances from this same series.
func SpotPrice(region, az, instanceType string, t time.Time) (float64, bool) {
	od, ok := OnDemandPrice(region, instanceType)
	if !ok {
		return 0, false
	}
	return spotPriceInWindow(az, instanceType, od, spotWindow(t)), true
}

func spotWindow(t time.Time) int64 {
	return int64(math.Floor(float64(t.Unix()) / SpotPricePeriod.Seconds()))
}

func spotPriceInWindow(az, instanceType string, od float64, w int64) float64 {
	u := float64(hash64(az, instanceType, fmt.Sprint(w))>>11) / float64(1<<53)
	p := round(od*(0.3+0.4*u), 6)
	if p < 0.0001 {
		p = 0.0001
	}
	return p
}

// availabilityZones lists the zones of a region.
func availabilityZones(region string) []string {
	suf, ok := regionAZSuffixes[region]
	if !ok {
		suf = "abc"
	}
	out := make([]string, 0, len(suf))
	for _, c := range suf {
		out = append(out, region+string(c))
	}
	return out
}

// image is one seeded machine image.
type image struct {
	id, name, description, ownerID, ownerAlias, arch, rootDevice, snapshotID, created string
	rootSizeGiB                                                                       int
	// availableAt is when a copied image becomes available (zero: it always was).
	availableAt time.Time
	tags        map[string]string
	copyToken   string // CopyImage's ClientToken
}

// state is the image's state at now.
func (im *image) state(now time.Time) string {
	if !im.availableAt.IsZero() && now.Before(im.availableAt) {
		return "pending"
	}
	return "available"
}

type imageSeed struct {
	name, description, owner, alias, arch, rootDevice, created string
	rootSizeGiB                                                int // the root snapshot's size
}

var imageSeeds = []imageSeed{
	{"ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240101", "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2024-01-01", "099720109477", "amazon", "x86_64", "/dev/sda1", "2024-01-01T10:00:00.000Z", 8},
	{"ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-arm64-server-20240101", "Canonical, Ubuntu, 22.04 LTS, arm64 jammy image build on 2024-01-01", "099720109477", "amazon", "arm64", "/dev/sda1", "2024-01-01T10:00:00.000Z", 8},
	{"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115", "Canonical, Ubuntu, 24.04, amd64 noble image", "099720109477", "amazon", "x86_64", "/dev/sda1", "2025-01-15T08:00:00.000Z", 8},
	{"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250115", "Canonical, Ubuntu, 24.04, arm64 noble image", "099720109477", "amazon", "arm64", "/dev/sda1", "2025-01-15T08:00:00.000Z", 8},
	{"al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64", "Amazon Linux 2023 AMI 2023.6.20250107.0 x86_64 HVM kernel-6.1", "137112412989", "amazon", "x86_64", "/dev/xvda", "2025-01-07T20:00:00.000Z", 8},
	{"al2023-ami-2023.6.20250107.0-kernel-6.1-arm64", "Amazon Linux 2023 AMI 2023.6.20250107.0 arm64 HVM kernel-6.1", "137112412989", "amazon", "arm64", "/dev/xvda", "2025-01-07T20:00:00.000Z", 8},
	// A larger root than the others, so "at least the image's own size" is testable.
	{"debian-12-amd64-20250112-1990", "Debian 12 (20250112-1990)", "136693071363", "amazon", "x86_64", "/dev/xvda", "2025-01-12T12:00:00.000Z", DebianRootSizeGiB},
	// A public look-alike from a foreign account (no alias): the "whoAMI" squat that an
	// image-name pattern such as ubuntu/images/* would match without an owner filter.
	{ForeignImageName, "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2099-01-01", ForeignOwnerID, "", "x86_64", "/dev/sda1", "2025-02-01T00:00:00.000Z", 8},
}

// seedImages builds a region's image list. The first seed gets FixedImageID everywhere;
// the others get ids derived from region and name, so they differ per region as in AWS.
func seedImages(region string) []*image {
	out := make([]*image, 0, len(imageSeeds))
	for i, sd := range imageSeeds {
		id := FixedImageID
		if i > 0 {
			id = "ami-" + hex17(hash64("ami", region, sd.name))
		}
		out = append(out, &image{
			id: id, name: sd.name, description: sd.description, ownerID: sd.owner, ownerAlias: sd.alias,
			arch: sd.arch, rootDevice: sd.rootDevice, created: sd.created, rootSizeGiB: sd.rootSizeGiB,
			snapshotID: "snap-" + hex17(hash64("snap", region, sd.name)),
		})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].id < out[b].id })
	return out
}

// hash64 is a stable hash of its arguments, used wherever the simulator needs a value
// that is arbitrary but reproducible (ids, prices, addresses).
func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return mix64(h.Sum64())
}

// mix64 is the splitmix64 finaliser: a bijection, so distinct counters give distinct ids.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hex17 formats v as the 17 hex digits of a modern AWS resource id.
func hex17(v uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return "0" + fmt.Sprintf("%x", b[:])
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// isGlob reports whether an EC2 filter value has wildcards or escapes, which glob
// interprets; any other value matches only itself.
func isGlob(pattern string) bool { return strings.ContainsAny(pattern, `*?\`) }

// glob matches s against an EC2 filter value, where * matches any run and ? one
// character, and a backslash escapes the next character.
func glob(pattern, s string) bool {
	if !isGlob(pattern) {
		return pattern == s
	}
	p := []rune(pattern)
	r := []rune(s)
	var match func(pi, si int) bool
	match = func(pi, si int) bool {
		for pi < len(p) {
			switch p[pi] {
			case '*':
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				if pi == len(p) {
					return true
				}
				for k := si; k <= len(r); k++ {
					if match(pi, k) {
						return true
					}
				}
				return false
			case '?':
				if si >= len(r) {
					return false
				}
				pi++
				si++
			case '\\':
				if pi+1 < len(p) {
					pi++
				}
				fallthrough
			default:
				if si >= len(r) || r[si] != p[pi] {
					return false
				}
				pi++
				si++
			}
		}
		return si == len(r)
	}
	return match(0, 0)
}
