package probes

import (
	"net"
	"strconv"
)

// The nym-node defaults a directory entry falls back to, shared by the
// directory (probes/nymapi) and the targets built from it.
const (
	DefaultNodeHTTPPort = 8080 // DEFAULT_NYM_NODE_HTTP_PORT
	DefaultMixPort      = 1789 // DEFAULT_MIX_LISTENING_PORT
	DefaultWSPort       = 9000 // DEFAULT_CLIENT_LISTENING_PORT
)

// dirHostPort joins host and port, bracketing IPv6.
func dirHostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
