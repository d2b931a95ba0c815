// Package security is the attack suite of dbactor's trust boundary between
// nodes (issue 13): every attack the issue lists, replayed against a
// database node with mutual TLS and a policy, each from a node of its own.
//
// Topology (every node a process of its own, loopback only — one
// Proto.Actor remote per process, ever):
//
//   - the database node: a child process (role "db"), identity "db", with
//     the registry "dbactor" on a fresh PostgreSQL database (main) and an
//     SQLite file (extra "lite"), serving a migration for each
//     (migrate.Serve), MaxDeadline 3 s and a Policy: "victim"
//     may do everything, "reader" may read (and keep open) main and lite,
//     "schemer" may run schema DDL, every other identity has the default
//     grant (lifecycle and callbacks);
//   - the victim: the test process itself, identity "victim", a
//     client.Client holding counts (a registry-wide Connect and one more
//     on main), owning the table victim.accounts with three rows, and a
//     callback for every model registration;
//   - attackers: child processes (role "attacker") with the identity of
//     the certificate they are given ("attacker", "reader", "schemer", a
//     certificate of another CA, an expired one, or none: plaintext). Each
//     runs a Proto.Actor node of its own, from which it sends arbitrary
//     messages to arbitrary PIDs, and opens raw gRPC streams to the
//     database node with hand-made envelopes (forged senders, headers,
//     types, targets, address claims), and runs bare gRPC servers that
//     pose as nodes of its own on further ports.
//
// Each row of the table is a subtest of TestSecurity that logs one line
//
//	SECURITY | <id> | <attack> | <expected> | <observed> | <victim intact: yes/no>
//
// and `make security` (scripts/security-table.sh) prints them as a table.
// The victim is intact when the database node still serves it, its counts
// are what it took, its table has its rows, the model tables survive, and
// its callback still receives registrations.
package security
