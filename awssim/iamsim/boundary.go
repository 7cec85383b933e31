package iamsim

import "strings"

// boundaryType is what IAM reports as PermissionsBoundaryType: the only kind of boundary
// a user can have is a managed policy (the SDK's PermissionsBoundaryAttachmentTypePolicy).
const boundaryType = "PermissionsBoundaryPolicy"

// checkPolicyARN refuses what is not a managed policy ARN, as IAM does with InvalidInput.
// The policy need not exist here: the simulator keeps no managed policies.
func checkPolicyARN(arn string) *apiError {
	if !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.Contains(arn, ":policy/") || len(arn) > 2048 {
		return &apiError{status: 400, code: "InvalidInput", msg: "ARN " + arn + " is not valid."}
	}
	return nil
}

// putUserPermissionsBoundary sets or replaces a user's permissions boundary.
func (s *Sim) putUserPermissionsBoundary(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	arn := c.form.Get("PermissionsBoundary")
	if arn == "" {
		return nil, validation("1 validation error detected: Value null at 'permissionsBoundary' failed to satisfy constraint: Member must not be null")
	}
	if err := checkPolicyARN(arn); err != nil {
		return nil, err
	}
	u.boundary = arn
	return nil, nil
}

// deleteUserPermissionsBoundary removes a user's boundary; a user without one is left
// as is. DeleteUser does not need it: a boundary does not hold a user back from deletion.
func (s *Sim) deleteUserPermissionsBoundary(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	u.boundary = ""
	return nil, nil
}
