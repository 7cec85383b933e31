package awssim

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ec2Namespace is the XML namespace of every EC2 Query response.
const ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// awsTime is the timestamp format EC2 writes (ISO 8601, milliseconds, UTC).
const awsTime = "2006-01-02T15:04:05.000Z"

// fmtTime formats t as EC2 does (awsTime, in UTC). It runs for every instance and
// volume of a listing, so years 0 to 9999 are written digit by digit, several times
// faster than time.Format, which formats the other years.
func fmtTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(awsTime)
	}
	hour, minute, sec := t.Clock()
	var b [len(awsTime)]byte
	copy(b[:], awsTime) // the separators
	digits := func(at, width, v int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	digits(0, 4, year)
	digits(5, 2, int(month))
	digits(8, 2, day)
	digits(11, 2, hour)
	digits(14, 2, minute)
	digits(17, 2, sec)
	digits(20, 3, t.Nanosecond()/int(time.Millisecond))
	return string(b[:])
}

// apiError is an EC2 error response.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badParam(format string, args ...any) *apiError {
	return errf(400, "InvalidParameterValue", format, args...)
}

func missing(name string) *apiError {
	return errf(400, "MissingParameter", "The request must contain the parameter %s", name)
}

type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

func writeEC2Error(w http.ResponseWriter, reqID string, e *apiError) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	_ = xml.NewEncoder(&buf).Encode(xmlErrorResponse{Code: e.Code, Message: e.Message, RequestID: reqID})
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.Status)
	_, _ = w.Write(buf.Bytes())
}

// marshalEC2 appends to b a successful response rendered as
// <ActionResponse xmlns=…>…</ActionResponse>, with requestId first as EC2 writes it.
func marshalEC2(b []byte, action, reqID string, body any) ([]byte, error) {
	return marshalEC2With(b, action, reqID, body, encodeBody)
}

// marshalEC2With is marshalEC2 with the body's elements appended by enc (encodeBody, or
// encodeBodyReflect in tests).
func marshalEC2With(b []byte, action, reqID string, body any, enc func(b []byte, body any) ([]byte, error)) ([]byte, error) {
	b = append(b, xml.Header...)
	b = fmt.Appendf(b, "<%sResponse xmlns=%q><requestId>%s</requestId>", action, ec2Namespace, reqID)
	if body != nil {
		var err error
		if b, err = enc(b, body); err != nil {
			return nil, err
		}
	}
	return fmt.Appendf(b, "</%sResponse>", action), nil
}

// responseBuffers recycles the buffers EC2 responses are rendered into (*[]byte): a
// page of instances is megabytes, and a fresh buffer per call costs zeroing and GC.
var responseBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledResponse is the largest buffer kept for reuse.
const maxPooledResponse = 16 << 20

// --- request parsing -------------------------------------------------------------

// call wraps one request's form with the Query-protocol list conventions.
type call struct {
	form   url.Values
	action string
	reqID  string
}

func (c *call) get(k string) string { return c.form.Get(k) }

func (c *call) has(k string) bool { _, ok := c.form[k]; return ok }

// indices returns the sorted list indices N present as prefix.N or prefix.N.* keys.
func (c *call) indices(prefix string) []int {
	seen := map[int]bool{}
	p := prefix + "."
	for k := range c.form {
		if !strings.HasPrefix(k, p) {
			continue
		}
		rest := k[len(p):]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		if n, err := strconv.Atoi(rest); err == nil {
			seen[n] = true
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// list returns the values of a flattened list: prefix.1, prefix.2, …
func (c *call) list(prefix string) []string {
	var out []string
	for _, n := range c.indices(prefix) {
		if v, ok := c.form[prefix+"."+strconv.Itoa(n)]; ok {
			out = append(out, v[0])
		}
	}
	return out
}

func (c *call) boolean(k string) bool { return strings.EqualFold(c.get(k), "true") }

func (c *call) integer(k string) (int, bool, *apiError) {
	v := c.get(k)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, false, badParam("Invalid value '%s' for %s", v, k)
	}
	return n, true, nil
}

func (c *call) timestamp(k string) (time.Time, bool, *apiError) {
	v := c.get(k)
	if v == "" {
		return time.Time{}, false, nil
	}
	for _, layout := range []string{time.RFC3339Nano, awsTime, "2006-01-02T15:04:05Z"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true, nil
		}
	}
	return time.Time{}, false, badParam("Invalid value '%s' for %s", v, k)
}

// filter is one EC2 Filter: the resource matches if any value matches (wildcards
// allowed); all filters of a request must match.
type filter struct {
	name   string
	values []string
	exact  map[string]bool // the values without wildcards
	globs  []string        // the values with wildcards
}

func (c *call) filters() []filter {
	var out []filter
	for _, n := range c.indices("Filter") {
		p := "Filter." + strconv.Itoa(n)
		out = append(out, newFilter(c.get(p+".Name"), c.list(p+".Value")))
	}
	return out
}

// newFilter indexes a filter's values, so that a resource is checked against a filter
// of 200 instance ids in one look-up rather than 200 comparisons.
func newFilter(name string, values []string) filter {
	f := filter{name: name, values: values}
	for _, v := range values {
		if isGlob(v) {
			f.globs = append(f.globs, v)
			continue
		}
		if f.exact == nil {
			f.exact = make(map[string]bool, len(values))
		}
		f.exact[v] = true
	}
	return f
}

// matches reports whether one of got matches one of the filter's values.
func (f *filter) matches(got []string) bool {
	for _, g := range got {
		if f.exact[g] {
			return true
		}
		for _, p := range f.globs {
			if glob(p, g) {
				return true
			}
		}
	}
	return false
}

// tags reads a Tag.N.Key/Value list under prefix.
func (c *call) tags(prefix string) ([]xmlTag, *apiError) {
	var out []xmlTag
	for _, n := range c.indices(prefix) {
		p := prefix + "." + strconv.Itoa(n)
		k := c.get(p + ".Key")
		if k == "" {
			return nil, badParam("Tag key must not be empty")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, badParam("Tag keys starting with 'aws:' are reserved for internal use")
		}
		if len(k) > 128 {
			return nil, badParam("Tag key exceeds the maximum length of 128 characters")
		}
		v := c.get(p + ".Value")
		if len(v) > 256 {
			return nil, badParam("Tag value exceeds the maximum length of 256 characters")
		}
		out = append(out, xmlTag{Key: k, Value: v})
	}
	if len(out) > 50 {
		return nil, errf(400, "TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
	}
	return out, nil
}

// matchFilters applies filters to a resource described by values(name). An unknown filter
// name is an error, as in EC2.
func matchFilters(fs []filter, values func(name string) ([]string, bool)) (bool, *apiError) {
	for i := range fs {
		got, known := values(fs[i].name)
		if !known {
			return false, badParam("The filter '%s' is invalid", fs[i].name)
		}
		if !fs[i].matches(got) {
			return false, nil
		}
	}
	return true, nil
}

// tagFilterValues answers the tag:KEY, tag-key and tag-value filters.
func tagFilterValues(tags map[string]string, name string) ([]string, bool) {
	switch {
	case strings.HasPrefix(name, "tag:"):
		if v, ok := tags[name[4:]]; ok {
			return []string{v}, true
		}
		return nil, true
	case name == "tag-key":
		out := make([]string, 0, len(tags))
		for k := range tags {
			out = append(out, k)
		}
		return out, true
	case name == "tag-value":
		out := make([]string, 0, len(tags))
		for _, v := range tags {
			out = append(out, v)
		}
		return out, true
	}
	return nil, false
}

// page tokens are opaque to clients; inside they carry a kind and a position.
func makeToken(kind string, pos uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatUint(pos, 10)))
}

func parseToken(kind, tok string) (uint64, *apiError) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil && strings.HasPrefix(string(b), kind+":") {
		if n, err := strconv.ParseUint(string(b[len(kind)+1:]), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, errf(400, "InvalidNextToken", "The token '%s' is invalid.", tok)
}

// maxResults validates MaxResults against [lo, hi]; 0 means "not given".
func (c *call) maxResults(lo, hi int) (int, *apiError) {
	n, ok, err := c.integer("MaxResults")
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, nil
	}
	if n < lo || n > hi {
		return 0, badParam("Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", n, lo, hi)
	}
	return n, nil
}

// --- response shapes ---------------------------------------------------------------

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// tagsXML lists a tag map sorted by key, nil when empty.
func tagsXML(m map[string]string) []xmlTag {
	if len(m) == 0 {
		return nil
	}
	out := make([]xmlTag, 0, len(m))
	for k, v := range m {
		out = append(out, xmlTag{k, v})
	}
	slices.SortFunc(out, func(a, b xmlTag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

type xmlState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

func stateXML(name string) xmlState { return xmlState{stateCodes[name], name} }

type xmlGroup struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type xmlStateReason struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type xmlEBS struct {
	VolumeID            string `xml:"volumeId"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type xmlBDM struct {
	DeviceName string `xml:"deviceName"`
	EBS        xmlEBS `xml:"ebs"`
}

type xmlPlacement struct {
	AvailabilityZone string `xml:"availabilityZone"`
	GroupName        string `xml:"groupName"`
	Tenancy          string `xml:"tenancy"`
}

type xmlProfile struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type xmlMonitoring struct {
	State string `xml:"state"`
}

type xmlInstance struct {
	InstanceID            string              `xml:"instanceId"`
	ImageID               string              `xml:"imageId"`
	State                 xmlState            `xml:"instanceState"`
	PrivateDNSName        string              `xml:"privateDnsName"`
	DNSName               string              `xml:"dnsName"`
	Reason                string              `xml:"reason"`
	KeyName               string              `xml:"keyName,omitempty"`
	AmiLaunchIndex        int                 `xml:"amiLaunchIndex"`
	InstanceType          string              `xml:"instanceType"`
	LaunchTime            string              `xml:"launchTime"`
	Placement             xmlPlacement        `xml:"placement"`
	Monitoring            xmlMonitoring       `xml:"monitoring"`
	SubnetID              string              `xml:"subnetId"`
	VpcID                 string              `xml:"vpcId"`
	PrivateIP             string              `xml:"privateIpAddress"`
	PublicIP              string              `xml:"ipAddress,omitempty"`
	SourceDestCheck       bool                `xml:"sourceDestCheck"`
	Groups                []xmlGroup          `xml:"groupSet>item"`
	StateReason           *xmlStateReason     `xml:"stateReason,omitempty"`
	Architecture          string              `xml:"architecture"`
	RootDeviceType        string              `xml:"rootDeviceType"`
	RootDeviceName        string              `xml:"rootDeviceName"`
	BlockDevices          []xmlBDM            `xml:"blockDeviceMapping>item,omitempty"`
	InstanceLifecycle     string              `xml:"instanceLifecycle,omitempty"`
	SpotInstanceRequestID string              `xml:"spotInstanceRequestId,omitempty"`
	VirtualizationType    string              `xml:"virtualizationType"`
	ClientToken           string              `xml:"clientToken"`
	Tags                  []xmlTag            `xml:"tagSet>item,omitempty"`
	Hypervisor            string              `xml:"hypervisor"`
	IamInstanceProfile    *xmlProfile         `xml:"iamInstanceProfile,omitempty"`
	EbsOptimized          bool                `xml:"ebsOptimized"`
	EnaSupport            bool                `xml:"enaSupport"`
	PlatformDetails       string              `xml:"platformDetails"`
	UsageOperation        string              `xml:"usageOperation"`
	MetadataOptions       *xmlMetadataOptions `xml:"metadataOptions,omitempty"`
}

type xmlMetadataOptions struct {
	State        string `xml:"state"`
	HTTPTokens   string `xml:"httpTokens"`
	HopLimit     int    `xml:"httpPutResponseHopLimit"`
	HTTPEndpoint string `xml:"httpEndpoint"`
}

type xmlReservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Groups        []xmlGroup    `xml:"groupSet>item,omitempty"`
	Instances     []xmlInstance `xml:"instancesSet>item"`
}

type xmlStateChange struct {
	InstanceID    string   `xml:"instanceId"`
	CurrentState  xmlState `xml:"currentState"`
	PreviousState xmlState `xml:"previousState"`
}

type xmlStateChanges struct {
	Instances []xmlStateChange `xml:"instancesSet>item"`
}

type xmlDescribeInstances struct {
	Reservations []xmlReservation `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

type xmlReturn struct {
	Return bool `xml:"return"`
}

// tagSpecs merges the tags of every TagSpecification.N into dst; each must name one of
// the resource types the action tags.
func (c *call) tagSpecs(dst map[string]string, types ...string) *apiError {
	for _, n := range c.indices("TagSpecification") {
		p := "TagSpecification." + strconv.Itoa(n)
		if rt := c.get(p + ".ResourceType"); !contains(types, rt) {
			return badParam("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		tl, aerr := c.tags(p + ".Tag")
		if aerr != nil {
			return aerr
		}
		for _, t := range tl {
			dst[t.Key] = t.Value
		}
	}
	return nil
}
