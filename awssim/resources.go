package awssim

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// --- key pairs ---------------------------------------------------------------------

type xmlKeyPair struct {
	KeyPairID      string   `xml:"keyPairId"`
	KeyName        string   `xml:"keyName"`
	KeyFingerprint string   `xml:"keyFingerprint"`
	KeyType        string   `xml:"keyType,omitempty"`
	PublicKey      string   `xml:"publicKey,omitempty"`
	CreateTime     string   `xml:"createTime,omitempty"`
	Tags           []xmlTag `xml:"tagSet>item,omitempty"`
}

type xmlKeyPairs struct {
	Keys []xmlKeyPair `xml:"keySet>item"`
}

type xmlDeleteKeyPair struct {
	Return    bool   `xml:"return"`
	KeyPairID string `xml:"keyPairId,omitempty"`
}

// KeyFingerprint computes the fingerprint EC2 reports for an imported OpenSSH public key:
// for RSA the colon-separated MD5 of the key blob (RFC 4716 section 4), for ED25519 the
// padded base64 SHA-256 of the key blob.
func KeyFingerprint(pub ssh.PublicKey) string {
	blob := pub.Marshal()
	if pub.Type() == ssh.KeyAlgoED25519 {
		sum := sha256.Sum256(blob)
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	sum := md5.Sum(blob)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

func (s *Sim) importKeyPair(rg *region, c *call, now time.Time) (any, *apiError) {
	name := c.get("KeyName")
	if name == "" {
		return nil, missing("KeyName")
	}
	if len(name) > 255 {
		return nil, badParam("Value (%s) for parameter keyName is invalid. Length exceeds maximum of 255.", name)
	}
	material := c.get("PublicKeyMaterial")
	if material == "" {
		return nil, missing("PublicKeyMaterial")
	}
	raw, err := base64.StdEncoding.DecodeString(material)
	if err != nil {
		raw = []byte(material)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(raw)
	if err != nil {
		return nil, errf(400, "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	var keyType string
	switch pub.Type() {
	case ssh.KeyAlgoRSA:
		keyType = "rsa"
	case ssh.KeyAlgoED25519:
		keyType = "ed25519"
	default:
		return nil, errf(400, "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	if rg.keys[name] != nil {
		return nil, errf(400, "InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
	}
	tags := map[string]string{}
	if aerr := c.tagSpecs(tags, "key-pair"); aerr != nil {
		return nil, aerr
	}
	k := &keyPair{
		id: s.newID("key"), name: name, fingerprint: KeyFingerprint(pub), keyType: keyType,
		publicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), created: now.Truncate(time.Second), tags: tags,
	}
	rg.keys[name] = k
	rg.keyOrder = append(rg.keyOrder, k)
	return xmlKeyPair{KeyPairID: k.id, KeyName: k.name, KeyFingerprint: k.fingerprint, Tags: tagsXML(k.tags)}, nil
}

func (s *Sim) describeKeyPairs(rg *region, c *call, now time.Time) (any, *apiError) {
	names, ids := c.list("KeyName"), c.list("KeyPairId")
	fs := c.filters()
	sel := rg.keyOrder
	if len(names) > 0 || len(ids) > 0 {
		sel = nil
		for _, n := range names {
			k := rg.keys[n]
			if k == nil {
				return nil, errf(400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", n)
			}
			sel = append(sel, k)
		}
		for _, id := range ids {
			var found *keyPair
			for _, k := range rg.keyOrder {
				if k.id == id {
					found = k
				}
			}
			if found == nil {
				return nil, errf(400, "InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
			}
			sel = append(sel, found)
		}
	}
	out := xmlKeyPairs{}
	seen := map[string]bool{}
	for _, k := range sel {
		if seen[k.id] {
			continue
		}
		seen[k.id] = true
		ok, aerr := matchFilters(fs, func(name string) ([]string, bool) {
			switch name {
			case "key-name":
				return []string{k.name}, true
			case "key-pair-id":
				return []string{k.id}, true
			case "fingerprint":
				return []string{k.fingerprint}, true
			case "key-type":
				return []string{k.keyType}, true
			}
			return tagFilterValues(k.tags, name)
		})
		if aerr != nil {
			return nil, aerr
		}
		if !ok {
			continue
		}
		x := xmlKeyPair{KeyPairID: k.id, KeyName: k.name, KeyFingerprint: k.fingerprint, KeyType: k.keyType,
			CreateTime: fmtTime(k.created), Tags: tagsXML(k.tags)}
		if c.boolean("IncludePublicKey") {
			x.PublicKey = k.publicKey
		}
		out.Keys = append(out.Keys, x)
	}
	if len(sel) == 0 && len(fs) > 0 {
		if _, aerr := matchFilters(fs, func(name string) ([]string, bool) {
			switch name {
			case "key-name", "key-pair-id", "fingerprint", "key-type":
				return nil, true
			}
			return tagFilterValues(nil, name)
		}); aerr != nil {
			return nil, aerr
		}
	}
	return out, nil
}

func (s *Sim) deleteKeyPair(rg *region, c *call, now time.Time) (any, *apiError) {
	name, id := c.get("KeyName"), c.get("KeyPairId")
	if name == "" && id == "" {
		return nil, missing("KeyName")
	}
	var k *keyPair
	if name != "" {
		k = rg.keys[name]
	} else {
		for _, kk := range rg.keyOrder {
			if kk.id == id {
				k = kk
			}
		}
		if k == nil {
			return nil, errf(400, "InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
		}
	}
	if k == nil { // deleting an absent key by name succeeds, as in EC2
		return xmlDeleteKeyPair{Return: true}, nil
	}
	delete(rg.keys, k.name)
	for i, kk := range rg.keyOrder {
		if kk == k {
			rg.keyOrder = append(rg.keyOrder[:i:i], rg.keyOrder[i+1:]...)
			break
		}
	}
	return xmlDeleteKeyPair{Return: true, KeyPairID: k.id}, nil
}

// --- regions and zones ---------------------------------------------------------------

type xmlRegion struct {
	RegionName     string `xml:"regionName"`
	RegionEndpoint string `xml:"regionEndpoint"`
	OptInStatus    string `xml:"optInStatus"`
}

type xmlRegions struct {
	Regions []xmlRegion `xml:"regionInfo>item"`
}

func (s *Sim) describeRegions(rg *region, c *call, now time.Time) (any, *apiError) {
	want := c.list("RegionName")
	for _, w := range want {
		if s.regions[w] == nil {
			return nil, badParam("Invalid region: %s", w)
		}
	}
	fs := c.filters()
	out := xmlRegions{}
	for _, name := range s.regionNames {
		if len(want) > 0 && !contains(want, name) {
			continue
		}
		x := xmlRegion{RegionName: name, RegionEndpoint: "ec2." + name + ".amazonaws.com", OptInStatus: "opt-in-not-required"}
		ok, aerr := matchFilters(fs, func(f string) ([]string, bool) {
			switch f {
			case "region-name":
				return []string{x.RegionName}, true
			case "endpoint":
				return []string{x.RegionEndpoint}, true
			case "opt-in-status":
				return []string{x.OptInStatus}, true
			}
			return nil, false
		})
		if aerr != nil {
			return nil, aerr
		}
		if ok {
			out.Regions = append(out.Regions, x)
		}
	}
	return out, nil
}

type xmlZone struct {
	ZoneName   string `xml:"zoneName"`
	ZoneID     string `xml:"zoneId"`
	ZoneState  string `xml:"zoneState"`
	RegionName string `xml:"regionName"`
	ZoneType   string `xml:"zoneType"`
	OptIn      string `xml:"optInStatus"`
	GroupName  string `xml:"groupName"`
}

type xmlZones struct {
	Zones []xmlZone `xml:"availabilityZoneInfo>item"`
}

func (s *Sim) describeAvailabilityZones(rg *region, c *call, now time.Time) (any, *apiError) {
	want := c.list("ZoneName")
	fs := c.filters()
	out := xmlZones{}
	for i, z := range rg.azs {
		if len(want) > 0 && !contains(want, z) {
			continue
		}
		x := xmlZone{ZoneName: z, ZoneID: fmt.Sprintf("%s-az%d", shortRegion(rg.name), i+1), ZoneState: "available",
			RegionName: rg.name, ZoneType: "availability-zone", OptIn: "opt-in-not-required", GroupName: rg.name}
		ok, aerr := matchFilters(fs, func(f string) ([]string, bool) {
			switch f {
			case "zone-name":
				return []string{x.ZoneName}, true
			case "zone-id":
				return []string{x.ZoneID}, true
			case "state":
				return []string{x.ZoneState}, true
			case "region-name":
				return []string{x.RegionName}, true
			}
			return nil, false
		})
		if aerr != nil {
			return nil, aerr
		}
		if ok {
			out.Zones = append(out.Zones, x)
		}
	}
	return out, nil
}

func shortRegion(r string) string {
	parts := strings.Split(r, "-")
	var b strings.Builder
	for _, p := range parts {
		if p != "" && (p[0] < '0' || p[0] > '9') {
			b.WriteByte(p[0])
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// --- images ----------------------------------------------------------------------------

type xmlImage struct {
	ImageID         string   `xml:"imageId"`
	ImageLocation   string   `xml:"imageLocation"`
	ImageState      string   `xml:"imageState"`
	ImageOwnerID    string   `xml:"imageOwnerId"`
	CreationDate    string   `xml:"creationDate"`
	IsPublic        bool     `xml:"isPublic"`
	Architecture    string   `xml:"architecture"`
	ImageType       string   `xml:"imageType"`
	ImageOwnerAlias string   `xml:"imageOwnerAlias,omitempty"`
	Name            string   `xml:"name"`
	Description     string   `xml:"description"`
	RootDeviceType  string   `xml:"rootDeviceType"`
	RootDeviceName  string   `xml:"rootDeviceName"`
	BlockDevices    []xmlBDI `xml:"blockDeviceMapping>item"`
	Virtualization  string   `xml:"virtualizationType"`
	Hypervisor      string   `xml:"hypervisor"`
	EnaSupport      bool     `xml:"enaSupport"`
	PlatformDetails string   `xml:"platformDetails"`
	UsageOperation  string   `xml:"usageOperation"`
	Tags            []xmlTag `xml:"tagSet>item,omitempty"`
}

type xmlBDI struct {
	DeviceName string    `xml:"deviceName"`
	EBS        xmlImgEBS `xml:"ebs"`
}

type xmlImgEBS struct {
	SnapshotID          string `xml:"snapshotId"`
	VolumeSize          int    `xml:"volumeSize"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	VolumeType          string `xml:"volumeType"`
	Encrypted           bool   `xml:"encrypted"`
}

type xmlImages struct {
	Images    []xmlImage `xml:"imagesSet>item"`
	NextToken string     `xml:"nextToken,omitempty"`
}

// ownedBy reports whether im belongs to one of DescribeImages' Owners: an account id,
// "self" (the simulated account), or an owner alias (amazon, aws-marketplace).
func ownedBy(im *image, owners []string) bool {
	for _, o := range owners {
		switch {
		case o == im.ownerID, o == "self" && im.ownerID == AccountID, o != "" && o == im.ownerAlias:
			return true
		}
	}
	return false
}

func (s *Sim) describeImages(rg *region, c *call, now time.Time) (any, *apiError) {
	ids := c.list("ImageId")
	owners := c.list("Owner")
	fs := c.filters()
	maxR, aerr := c.maxResults(5, 1000)
	if aerr != nil {
		return nil, aerr
	}
	if len(ids) > 0 && maxR > 0 {
		return nil, errf(400, "InvalidParameterCombination", "The parameter ImageIds cannot be used with the parameter MaxResults")
	}
	sel := rg.images
	if len(ids) > 0 {
		sel = nil
		var missingIDs []string
		for _, id := range ids {
			if !strings.HasPrefix(id, "ami-") {
				return nil, errf(400, "InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", id)
			}
			if im := rg.imageIdx[id]; im != nil {
				sel = append(sel, im)
			} else {
				missingIDs = append(missingIDs, id)
			}
		}
		if len(missingIDs) > 0 {
			return nil, errf(400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", strings.Join(missingIDs, ", "))
		}
	}
	start := uint64(0)
	if tok := c.get("NextToken"); tok != "" {
		var aerr *apiError
		if start, aerr = parseToken("ami", tok); aerr != nil {
			return nil, aerr
		}
	}
	out := xmlImages{}
	for i := int(start); i < len(sel); i++ {
		im := sel[i]
		if len(owners) > 0 && !ownedBy(im, owners) {
			continue
		}
		ok, aerr := matchFilters(fs, func(f string) ([]string, bool) {
			switch f {
			case "name":
				return []string{im.name}, true
			case "image-id":
				return []string{im.id}, true
			case "owner-id":
				return []string{im.ownerID}, true
			case "owner-alias":
				return []string{im.ownerAlias}, true
			case "architecture":
				return []string{im.arch}, true
			case "state":
				return []string{im.state(now)}, true
			case "is-public":
				return []string{"true"}, true
			case "description":
				return []string{im.description}, true
			case "root-device-type":
				return []string{"ebs"}, true
			case "root-device-name":
				return []string{im.rootDevice}, true
			case "virtualization-type":
				return []string{"hvm"}, true
			case "image-type":
				return []string{"machine"}, true
			}
			return tagFilterValues(im.tags, f)
		})
		if aerr != nil {
			return nil, aerr
		}
		if !ok {
			continue
		}
		if maxR > 0 && len(out.Images) == maxR {
			out.NextToken = makeToken("ami", uint64(i))
			break
		}
		out.Images = append(out.Images, xmlImage{
			ImageID: im.id, ImageLocation: im.ownerID + "/" + im.name, ImageState: im.state(now),
			ImageOwnerID: im.ownerID, CreationDate: im.created, IsPublic: im.ownerID != AccountID, Tags: tagsXML(im.tags), Architecture: im.arch,
			ImageType: "machine", ImageOwnerAlias: im.ownerAlias, Name: im.name, Description: im.description,
			RootDeviceType: "ebs", RootDeviceName: im.rootDevice,
			BlockDevices: []xmlBDI{{DeviceName: im.rootDevice, EBS: xmlImgEBS{SnapshotID: im.snapshotID,
				VolumeSize: im.rootSizeGiB, DeleteOnTermination: true, VolumeType: "gp3"}}},
			Virtualization: "hvm", Hypervisor: "xen", EnaSupport: true,
			PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances",
		})
	}
	return out, nil
}

// --- spot price history ------------------------------------------------------------------

// SpotProductDescriptions are the product descriptions the spot price history reports;
// both carry the same (Linux) price.
var SpotProductDescriptions = []string{"Linux/UNIX", "Linux/UNIX (Amazon VPC)"}

type xmlSpotPrice struct {
	AvailabilityZone   string `xml:"availabilityZone"`
	InstanceType       string `xml:"instanceType"`
	ProductDescription string `xml:"productDescription"`
	SpotPrice          string `xml:"spotPrice"`
	Timestamp          string `xml:"timestamp"`
}

type xmlSpotPrices struct {
	Prices    []xmlSpotPrice `xml:"spotPriceHistorySet>item"`
	NextToken string         `xml:"nextToken,omitempty"`
}

// spotHistoryDefaultSpan is how far back the history goes when no StartTime is given.
const spotHistoryDefaultSpan = 90 * 24 * time.Hour

// describeSpotPriceHistory returns price changes newest first. Within [StartTime,
// EndTime] every change is listed, plus the change in force at StartTime, as EC2 does.
// Entries are generated on the fly from their position, so paging is O(page).
func (s *Sim) describeSpotPriceHistory(rg *region, c *call, now time.Time) (any, *apiError) {
	end, okEnd, aerr := c.timestamp("EndTime")
	if aerr != nil {
		return nil, aerr
	}
	if !okEnd || end.After(now) {
		end = now
	}
	start, okStart, aerr := c.timestamp("StartTime")
	if aerr != nil {
		return nil, aerr
	}
	if !okStart {
		start = end.Add(-spotHistoryDefaultSpan)
	}
	if start.After(end) {
		return nil, badParam("The start time must be before the end time.")
	}
	maxR, aerr := c.maxResults(1, 10000)
	if aerr != nil {
		return nil, aerr
	}
	if maxR == 0 {
		maxR = 1000
	}
	types := c.list("InstanceType")
	for _, t := range types {
		if _, ok := instanceTypeByName[t]; !ok {
			return nil, badParam("Invalid value '%s' for InstanceType.", t)
		}
	}
	if len(types) == 0 {
		for _, t := range instanceTypes {
			types = append(types, t.Name)
		}
	}
	products := SpotProductDescriptions
	if want := c.list("ProductDescription"); len(want) > 0 {
		products = nil
		for _, p := range SpotProductDescriptions {
			if contains(want, p) {
				products = append(products, p)
			}
		}
	}
	azs := rg.azs
	if az := c.get("AvailabilityZone"); az != "" {
		azs = nil
		if contains(rg.azs, az) {
			azs = []string{az}
		}
	}
	// Filters on availability-zone, instance-type and product-description narrow the
	// dimensions; spot-price and timestamp are checked per entry.
	var entryFilters []filter
	for _, f := range c.filters() {
		switch f.name {
		case "availability-zone":
			azs = keepMatching(azs, f.values)
		case "instance-type":
			types = keepMatching(types, f.values)
		case "product-description":
			products = keepMatching(products, f.values)
		case "spot-price", "timestamp":
			entryFilters = append(entryFilters, f)
		default:
			return nil, badParam("The filter '%s' is invalid", f.name)
		}
	}
	per := uint64(len(types) * len(azs) * len(products))
	out := xmlSpotPrices{}
	if per == 0 {
		return out, nil
	}
	newest, oldest := spotWindow(end), spotWindow(start)
	total := uint64(newest-oldest+1) * per
	pos := uint64(0)
	if tok := c.get("NextToken"); tok != "" {
		if pos, aerr = parseToken("spot", tok); aerr != nil {
			return nil, aerr
		}
	}
	for ; pos < total; pos++ {
		w := newest - int64(pos/per)
		rem := pos % per
		ti := rem / uint64(len(azs)*len(products))
		rem %= uint64(len(azs) * len(products))
		ai, pi := rem/uint64(len(products)), rem%uint64(len(products))
		od, _ := OnDemandPrice(rg.name, types[ti])
		price := rg.spotPriceInWindowOf(azs[ai], types[ti], od, w)
		x := xmlSpotPrice{
			AvailabilityZone: azs[ai], InstanceType: types[ti], ProductDescription: products[pi],
			SpotPrice: strconv.FormatFloat(price, 'f', 6, 64),
			Timestamp: fmtTime(time.Unix(w*int64(SpotPricePeriod/time.Second), 0)),
		}
		if len(entryFilters) > 0 {
			ok, _ := matchFilters(entryFilters, func(f string) ([]string, bool) {
				if f == "spot-price" {
					return []string{x.SpotPrice}, true
				}
				return []string{x.Timestamp}, true
			})
			if !ok {
				continue
			}
		}
		if len(out.Prices) == maxR {
			out.NextToken = makeToken("spot", pos)
			break
		}
		out.Prices = append(out.Prices, x)
	}
	return out, nil
}

func keepMatching(list, patterns []string) []string {
	var out []string
	for _, v := range list {
		for _, p := range patterns {
			if glob(p, v) {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// --- volumes ---------------------------------------------------------------------------------

type xmlAttachment struct {
	VolumeID            string `xml:"volumeId"`
	InstanceID          string `xml:"instanceId"`
	Device              string `xml:"device"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type xmlVolume struct {
	VolumeID         string          `xml:"volumeId"`
	Size             int             `xml:"size"`
	SnapshotID       string          `xml:"snapshotId"`
	AvailabilityZone string          `xml:"availabilityZone"`
	Status           string          `xml:"status"`
	CreateTime       string          `xml:"createTime"`
	Attachments      []xmlAttachment `xml:"attachmentSet>item"`
	Tags             []xmlTag        `xml:"tagSet>item,omitempty"`
	VolumeType       string          `xml:"volumeType"`
	Iops             int             `xml:"iops,omitempty"`
	Throughput       int             `xml:"throughput,omitempty"`
	Encrypted        bool            `xml:"encrypted"`
	MultiAttach      bool            `xml:"multiAttachEnabled"`
}

type xmlVolumes struct {
	Volumes   []xmlVolume `xml:"volumeSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

// exists reports whether the volume still exists at now.
func (v *volume) exists(now time.Time) bool {
	return v.end(now).IsZero()
}

// attached reports whether the volume is still attached to its instance at now.
func (v *volume) attached(now time.Time) bool {
	_, gone := v.inst.terminatedAt(now)
	return !gone
}

func (s *Sim) volumeXML(v *volume, now time.Time) xmlVolume {
	created := fmtTime(v.created)
	x := xmlVolume{
		VolumeID: v.id, Size: v.sizeGiB, SnapshotID: v.snapshotID, AvailabilityZone: v.az,
		Status: "available", CreateTime: created, Tags: tagsXML(v.tags), VolumeType: v.volType,
		Iops: v.iops, Throughput: v.throughput,
	}
	if v.attached(now) {
		x.Status = "in-use"
		x.Attachments = []xmlAttachment{{VolumeID: v.id, InstanceID: v.inst.id, Device: v.device,
			Status: "attached", AttachTime: created, DeleteOnTermination: v.deleteOnTermination}}
	}
	return x
}

func (s *Sim) describeVolumes(rg *region, c *call, now time.Time) (any, *apiError) {
	ids := c.list("VolumeId")
	fs := c.filters()
	maxR, aerr := c.maxResults(5, 500)
	if aerr != nil {
		return nil, aerr
	}
	if len(ids) > 0 && maxR > 0 {
		return nil, errf(400, "InvalidParameterCombination", "The parameter volumeSet cannot be used with the parameter maxResults")
	}
	sel := rg.volumes
	if len(ids) > 0 {
		sel = nil
		var missingIDs []string
		for _, id := range ids {
			if !strings.HasPrefix(id, "vol-") {
				return nil, errf(400, "InvalidParameterValue", "Invalid id: \"%s\" (expecting \"vol-...\")", id)
			}
			v := s.volByID[id]
			if v == nil || v.inst.region != rg.name || !v.exists(now) {
				missingIDs = append(missingIDs, id)
				continue
			}
			sel = append(sel, v)
		}
		if len(missingIDs) > 0 {
			return nil, errf(400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", strings.Join(missingIDs, ", "))
		}
	}
	start := 0
	if tok := c.get("NextToken"); tok != "" {
		seq, aerr := parseToken("vol", tok)
		if aerr != nil {
			return nil, aerr
		}
		for start < len(sel) && sel[start].seq < seq {
			start++
		}
	}
	out := xmlVolumes{}
	for i := start; i < len(sel); i++ {
		v := sel[i]
		if !v.exists(now) {
			continue
		}
		att := v.attached(now)
		ok, aerr := matchFilters(fs, func(f string) ([]string, bool) {
			switch f {
			case "volume-id":
				return []string{v.id}, true
			case "attachment.instance-id":
				if att {
					return []string{v.inst.id}, true
				}
				return nil, true
			case "attachment.device":
				if att {
					return []string{v.device}, true
				}
				return nil, true
			case "attachment.status":
				if att {
					return []string{"attached"}, true
				}
				return nil, true
			case "attachment.delete-on-termination":
				if att {
					return []string{strconv.FormatBool(v.deleteOnTermination)}, true
				}
				return nil, true
			case "status":
				if att {
					return []string{"in-use"}, true
				}
				return []string{"available"}, true
			case "size":
				return []string{strconv.Itoa(v.sizeGiB)}, true
			case "volume-type":
				return []string{v.volType}, true
			case "availability-zone":
				return []string{v.az}, true
			case "snapshot-id":
				return []string{v.snapshotID}, true
			}
			return tagFilterValues(v.tags, f)
		})
		if aerr != nil {
			return nil, aerr
		}
		if !ok {
			continue
		}
		if maxR > 0 && len(out.Volumes) == maxR {
			out.NextToken = makeToken("vol", v.seq)
			break
		}
		out.Volumes = append(out.Volumes, s.volumeXML(v, now))
	}
	if len(out.Volumes) == 0 && len(fs) > 0 {
		if _, aerr := matchFilters(fs, func(f string) ([]string, bool) {
			switch f {
			case "volume-id", "attachment.instance-id", "attachment.device", "attachment.status",
				"attachment.delete-on-termination", "status", "size", "volume-type", "availability-zone", "snapshot-id":
				return nil, true
			}
			return tagFilterValues(nil, f)
		}); aerr != nil {
			return nil, aerr
		}
	}
	return out, nil
}

// deleteVolume deletes a detached volume (one kept after its instance terminated because
// DeleteOnTermination was false), which stops its EBS charge.
func (s *Sim) deleteVolume(rg *region, c *call, now time.Time) (any, *apiError) {
	id := c.get("VolumeId")
	if id == "" {
		return nil, missing("VolumeId")
	}
	v := s.volByID[id]
	if v == nil || v.inst.region != rg.name || !v.exists(now) {
		return nil, errf(400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
	}
	if v.attached(now) {
		return nil, errf(400, "VolumeInUse", "Volume %s is currently attached to %s", id, v.inst.id)
	}
	v.deleted = now.Truncate(time.Second)
	return xmlReturn{true}, nil
}
