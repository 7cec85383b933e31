package iamsim

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// credKind is one of the user credentials IAM lists and deletes by id besides access keys.
type credKind int

const (
	sshPublicKey credKind = iota
	signingCertificate
	serviceCredential
	numCredKinds
)

// credKinds describes each kind: the request parameter naming one, its noun in IAM's
// messages, IAM's quota (per user; per user and service for service-specific
// credentials), whether its actions require UserName, and what DeleteUser's DeleteConflict
// says while a user holds one (IAM's wording).
var credKinds = [numCredKinds]struct {
	idParam   string
	noun      string
	quotaName string
	quota     int
	needsUser bool
	conflict  string
}{
	sshPublicKey:       {"SSHPublicKeyId", "Public Key", "SSHPublicKeysPerUser", 5, true, "remove referenced objects"},
	signingCertificate: {"CertificateId", "Certificate", "SigningCertificatesPerUser", 2, false, "delete certificates"},
	serviceCredential:  {"ServiceSpecificCredentialId", "Service Specific Credential", "ServiceSpecificCredentialsPerUserPerService", 2, true, "remove referenced objects"},
}

// serviceCredentialServices are the services IAM issues service-specific credentials for.
var serviceCredentialServices = map[string]bool{
	"codecommit.amazonaws.com": true,
	"cassandra.amazonaws.com":  true,
	"bedrock.amazonaws.com":    true,
}

// credential is an SSH public key, a signing certificate or a service-specific credential.
// A service-specific credential's password is not kept: IAM shows it once, at creation.
type credential struct {
	id          string
	status      string // Active | Inactive
	created     time.Time
	body        string // the SSH public key or the certificate's PEM; "" for a service credential
	fingerprint string // identifies a duplicate key or certificate; "" for a service credential
	service     string // a service credential's service; "" for the other kinds
}

type (
	xmlSSHPublicKey struct {
		UserName         string `xml:"UserName"`
		SSHPublicKeyID   string `xml:"SSHPublicKeyId"`
		Fingerprint      string `xml:"Fingerprint,omitempty"`      // not in ListSSHPublicKeys
		SSHPublicKeyBody string `xml:"SSHPublicKeyBody,omitempty"` // not in ListSSHPublicKeys
		Status           string `xml:"Status"`
		UploadDate       string `xml:"UploadDate"`
	}
	xmlCertificate struct {
		UserName        string `xml:"UserName"`
		CertificateID   string `xml:"CertificateId"`
		CertificateBody string `xml:"CertificateBody"`
		Status          string `xml:"Status"`
		UploadDate      string `xml:"UploadDate"`
	}
	xmlServiceCredential struct {
		UserName                    string `xml:"UserName"`
		Status                      string `xml:"Status"`
		ServiceUserName             string `xml:"ServiceUserName"`
		ServicePassword             string `xml:"ServicePassword,omitempty"` // only from CreateServiceSpecificCredential
		CreateDate                  string `xml:"CreateDate"`
		ServiceSpecificCredentialID string `xml:"ServiceSpecificCredentialId"`
		ServiceName                 string `xml:"ServiceName"`
	}
)

func (cr *credential) sshXML(u *user) xmlSSHPublicKey {
	return xmlSSHPublicKey{UserName: u.name, SSHPublicKeyID: cr.id, Status: cr.status, UploadDate: isoTime(cr.created)}
}

func (cr *credential) certXML(u *user) xmlCertificate {
	return xmlCertificate{u.name, cr.id, cr.body, cr.status, isoTime(cr.created)}
}

func (cr *credential) serviceXML(u *user) xmlServiceCredential {
	return xmlServiceCredential{UserName: u.name, Status: cr.status, ServiceUserName: u.name + "-at-" + Account,
		CreateDate: isoTime(cr.created), ServiceSpecificCredentialID: cr.id, ServiceName: cr.service}
}

// credOwner resolves the user of a credential action of kind.
func (s *Sim) credOwner(c *call, kind credKind) (*user, *apiError) {
	if credKinds[kind].needsUser {
		return s.user(c, "UserName")
	}
	return s.keyOwner(c)
}

// addCredential gives u cr as a new active credential of kind, within IAM's quota; dup is
// the error for a key or certificate u already has.
func (s *Sim) addCredential(c *call, u *user, kind credKind, cr *credential, dup *apiError) *apiError {
	k := credKinds[kind]
	same := 0
	for _, o := range u.creds[kind] {
		if cr.fingerprint != "" && o.fingerprint == cr.fingerprint {
			return dup
		}
		if o.service == cr.service {
			same++
		}
	}
	if same >= k.quota {
		return &apiError{status: 409, code: "LimitExceeded", msg: fmt.Sprintf("Cannot exceed quota for %s: %d", k.quotaName, k.quota)}
	}
	cr.status, cr.created = "Active", c.now
	u.creds[kind] = append(u.creds[kind], cr)
	return nil
}

// credentials returns u's credentials of kind that keep accepts (nil: all) and their ids,
// which sort in creation order (ids grow monotonically).
func (u *user) credentials(kind credKind, keep func(*credential) bool) ([]*credential, []string) {
	var out []*credential
	var ids []string
	for _, cr := range u.creds[kind] {
		if keep == nil || keep(cr) {
			out = append(out, cr)
			ids = append(ids, cr.id)
		}
	}
	return out, ids
}

// deleteCredential is the Delete action of kind: it removes the credential named by the
// kind's id parameter from its user.
func deleteCredential(kind credKind) handler {
	return func(s *Sim, c *call) (any, *apiError) {
		u, err := s.credOwner(c, kind)
		if err != nil {
			return nil, err
		}
		k := credKinds[kind]
		id := c.form.Get(k.idParam)
		for i, cr := range u.creds[kind] {
			if cr.id == id {
				u.creds[kind] = append(u.creds[kind][:i:i], u.creds[kind][i+1:]...)
				return nil, nil
			}
		}
		return nil, noSuchEntity("The %s with id %s cannot be found.", k.noun, id)
	}
}

// listCredentials is the List action of kind: it pages the user's credentials of kind
// (only those for ServiceName when that is given, as ListServiceSpecificCredentials does;
// its AllUsers is not simulated) as the members of element, item building each.
func listCredentials[T any](kind credKind, element string, item func(*credential, *user) T) handler {
	return func(s *Sim, c *call) (any, *apiError) {
		u, err := s.keyOwner(c) // UserName is optional when listing
		if err != nil {
			return nil, err
		}
		svc := c.form.Get("ServiceName")
		crs, ids := u.credentials(kind, func(cr *credential) bool { return svc == "" || cr.service == svc })
		return listing(c, element, ids, func(i int) T { return item(crs[i], u) })
	}
}

// sshFingerprint checks an ssh-rsa public key ("ssh-rsa BASE64 [comment]") and returns
// its MD5 fingerprint, as IAM reports it. Key sizes are not checked.
func sshFingerprint(body string) (string, bool) {
	f := strings.Fields(body)
	if len(f) < 2 || f[0] != "ssh-rsa" {
		return "", false
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(blob) == 0 {
		return "", false
	}
	sum := md5.Sum(blob)
	hexSum := hex.EncodeToString(sum[:])
	var parts []string
	for i := 0; i < len(hexSum); i += 2 {
		parts = append(parts, hexSum[i:i+2])
	}
	return strings.Join(parts, ":"), true
}

func (s *Sim) uploadSSHPublicKey(c *call) (any, *apiError) {
	u, err := s.credOwner(c, sshPublicKey)
	if err != nil {
		return nil, err
	}
	body := c.form.Get("SSHPublicKeyBody")
	fp, ok := sshFingerprint(body)
	if !ok {
		return nil, &apiError{status: 400, code: "InvalidPublicKey", msg: "The public key is malformed or otherwise invalid."}
	}
	cr := &credential{id: s.newID("APKA"), body: body, fingerprint: fp}
	dup := &apiError{status: 400, code: "DuplicateSSHPublicKey", msg: "The SSH public key is already associated with the specified IAM user."}
	if err := s.addCredential(c, u, sshPublicKey, cr, dup); err != nil {
		return nil, err
	}
	x := cr.sshXML(u)
	x.Fingerprint, x.SSHPublicKeyBody = cr.fingerprint, cr.body
	return struct {
		SSHPublicKey xmlSSHPublicKey `xml:"SSHPublicKey"`
	}{x}, nil
}

func (s *Sim) uploadSigningCertificate(c *call) (any, *apiError) {
	u, err := s.credOwner(c, signingCertificate)
	if err != nil {
		return nil, err
	}
	body := c.form.Get("CertificateBody")
	block, _ := pem.Decode([]byte(body))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, &apiError{status: 400, code: "MalformedCertificate", msg: "Unable to parse certificate. Please ensure the certificate is in PEM format."}
	}
	if _, perr := x509.ParseCertificate(block.Bytes); perr != nil {
		return nil, &apiError{status: 400, code: "InvalidCertificate", msg: "Unable to parse certificate: " + perr.Error()}
	}
	sum := sha256.Sum256(block.Bytes)
	// Certificate ids are 24 characters or more.
	cr := &credential{id: s.newID("SIGNCERT"), body: body, fingerprint: hex.EncodeToString(sum[:])}
	dup := &apiError{status: 409, code: "DuplicateCertificate", msg: "The certificate is already associated with the specified IAM user."}
	if err := s.addCredential(c, u, signingCertificate, cr, dup); err != nil {
		return nil, err
	}
	return struct {
		Certificate xmlCertificate `xml:"Certificate"`
	}{cr.certXML(u)}, nil
}

func (s *Sim) createServiceSpecificCredential(c *call) (any, *apiError) {
	u, err := s.credOwner(c, serviceCredential)
	if err != nil {
		return nil, err
	}
	svc := c.form.Get("ServiceName")
	if !serviceCredentialServices[svc] {
		return nil, &apiError{status: 404, code: "NotSupportedService", msg: "No such service " + svc + " is supported for Service-Specific Credentials"}
	}
	cr := &credential{id: s.newID("ACCA"), service: svc}
	if err := s.addCredential(c, u, serviceCredential, cr, nil); err != nil {
		return nil, err
	}
	x := cr.serviceXML(u)
	x.ServicePassword = s.newSecret()
	return struct {
		ServiceSpecificCredential xmlServiceCredential `xml:"ServiceSpecificCredential"`
	}{x}, nil
}
