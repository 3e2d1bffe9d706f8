// Package simnet is a simulated Nym network on loopback, for tests, for
// `nymwatch demo` and for the 10,000-target benchmark.
//
// It serves the real API shapes (copied from the nym-reference fixtures and
// embedded from templates/): a nym-api, a NymVPN API, one HTTP API, one mix
// port and (gateways) one client websocket port per nym-node, and a couple
// of control targets. Faults can be switched at runtime, per node, per
// service, per client source address, or for the whole vantage point.
//
// # Addresses
//
// The whole 127.0.0.0/8 range is local on Linux. The network's services
// (nym-api, NymVPN API, control targets) live on Options.BaseIP (default
// 127.10.0.1) on ephemeral ports; node i gets the i-th following address,
// skipping .0 and .255. All nodes of one network share the same three port
// numbers (HTTP, mix, websocket), chosen dynamically, so several networks can
// run at once even with the same BaseIP.
//
// # Listening modes
//
// ListenPerAddress binds every node's ports on its own address: three
// sockets per gateway, two per mixnode. ListenWildcard binds one socket per
// port kind on 0.0.0.0 and tells nodes apart by each connection's local
// address; connections whose local address is not one of the network's
// nodes (in particular any address outside 127/8 — the wildcard socket is
// reachable on every interface) are reset at once. ListenAuto picks
// per-address up to PerAddressMax nodes and wildcard above.
//
// # How faults look to a client
//
// "Refuse" has two honest implementations, and a client may see either:
//
//   - Kernel refusal (ECONNREFUSED at connect): used when a node or service
//     is refused for every client and the network owns a socket for that
//     address alone — per-address mode nodes and all services. The listener is
//     closed; on Linux a bound, non-listening SO_REUSEPORT socket keeps the
//     address:port reserved meanwhile, so the kernel answers SYNs with RST.
//   - Accept then reset: the kernel completes the handshake, then the
//     network accepts the connection and closes it with SO_LINGER 0, which
//     sends RST. A client's connect usually succeeds and its first read or
//     write fails with ECONNRESET (or EOF); on loopback the RST can also
//     arrive before connect returns, which then fails with ECONNRESET. Used
//     in wildcard mode, for per-source faults and for Flap. A probe that only
//     connects and closes cannot tell this from a healthy port: read briefly
//     after connecting (a real mix port says nothing first, so a read
//     deadline expiring means alive, RST/EOF means refused).
//
// Hang accepts and never answers (the connection is held, reading and
// discarding, until the client gives up or HangLimit passes). Slow delays
// each HTTP response. HTTP5xx answers the given status with the service's
// error body (nym-api and nym-node: plain text; NymVPN API: its JSON error).
// Garbage answers 200 with a body that is not JSON. On a mix port, which
// speaks no HTTP, Slow and Hang look healthy (a TCP connect succeeds) and
// HTTP5xx and Garbage write a few garbage bytes and close. Flap alternates
// between healthy and a failure (Refuse unless given) on each connection, or
// every Period of the network's clock.
//
// Every node has a real ed25519 key pair: nym-api bonds and describes its
// public key, and the node serves /api/v1/host-information signed with it
// (over the data bytes as served). Impersonate makes a node present another
// key, validly signed by that key; BadSignature keeps the bonded key and
// serves a signature that does not verify. Both touch host-information
// only: the node is otherwise healthy. Redirect answers every HTTP request
// of a node with 302 Found to a given location.
//
// CutOff simulates the loss of our own uplink: every connection to every
// node, service and control target hangs.
package simnet
