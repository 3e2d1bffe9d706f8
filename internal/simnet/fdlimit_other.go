//go:build !unix

package simnet

import "errors"

// RaiseFDLimit is not supported on this platform.
func RaiseFDLimit() (uint64, error) {
	return 0, errors.New("simnet: RaiseFDLimit is not supported on this platform")
}
