// Command remote runs dbactor across two processes on 127.0.0.1: a database
// node (dbnode.Start), which hosts the registry and owns the database, and
// a client node (node.StartClient), which holds no database and reaches
// the registry by protobuf messages only (Proto.Actor remote). A program
// that is only a client node imports node and client, not dbnode, and
// links neither pgx nor SQLite; this one is both sides.
//
// With no flags it runs the whole demo: it starts the database node as a
// child process (this program again, with -role=db), reads the node's
// address from the child's output, and acts as the client node itself:
// attach, Connect, CreateSchema, a model callback that runs on the client
// node when the database node registers a model, Exec and Query by message,
// Disconnect, Close — then it tells the child to exit (by closing its
// stdin) and waits for it.
//
//	go run ./examples/remote                          # the whole demo, SQLite in a temp dir
//	go run ./examples/remote -database='postgres://…' # or DBACTOR_EXAMPLE_DATABASE=…
//
// Or one side per terminal:
//
//	go run ./examples/remote -role=db                         # prints its address
//	go run ./examples/remote -role=client -addr=127.0.0.1:PORT
//
// The database node reads commands on its stdin, one per line: `register
// <Model>` registers a model (firing the client's callback), `status`
// prints the main database's state, and `exit` — or the end of stdin —
// closes the node.
//
// # What the client may do: the database node's Policy
//
// A database node authorizes every request a peer sends before any actor
// sees it (node.Config.Policy). By default a peer may only keep databases
// open and follow model registrations (node.OpLifecycle|node.OpCallbacks):
// the Connect, Disconnect, status and callback of this demo. Its
// CreateSchema/DropSchema, Exec and Query need more, so the database node
// grants them — to the client's identity only, and on the main database
// only ("" names it) — see demoPolicy:
//
//	node.Policy{
//		Default: []node.Grant{{Ops: node.OpLifecycle | node.OpCallbacks}},
//		Peers: map[string][]node.Grant{
//			"loopback": {{Ops: node.OpSchema | node.OpRead | node.OpWrite, Databases: []string{""}}},
//		},
//	}
//
// Default is what every peer may do (written out here; nil means the
// same); Peers adds grants by identity. In plaintext, which a node allows
// on loopback only, a peer's identity is node.LoopbackIdentity, "loopback":
// any process on this machine. A refused request fails with
// client.ErrPermissionDenied.
//
// # Mutual TLS
//
// With -tls both nodes authenticate each other with certificates. The
// database node makes a throwaway CA at its start (internal/certs; a real
// deployment issues certificates from its own CA) and writes it, with a
// "db" and a "client" node certificate, as PEM files into the -certs
// directory: ca.crt, db.crt, db.key, client.crt, client.key. It loads its
// own with node.Config's CertFile/KeyFile/CAFile; the client node loads
// "client" into node.Config.TLS and accepts only a peer whose certificate
// names "db". A peer's identity is now its certificate's (URI SAN, else
// common name), so the policy grants "client" instead of "loopback": any
// other holder of a certificate from the CA gets the default only.
//
//	go run ./examples/remote -tls                     # the whole demo; certificates in a temp dir
//
// Or one side per terminal (the database node first: it writes the
// certificates the client then reads):
//
//	go run ./examples/remote -role=db -tls -certs=/tmp/remote-certs
//	go run ./examples/remote -role=client -tls -certs=/tmp/remote-certs -addr=127.0.0.1:PORT
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/examples/internal/childproc"
	"github.com/dbactor/dbactor/internal/certs"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

const (
	// envDatabase is the environment variable naming the database URL when
	// -database is not given.
	envDatabase = "DBACTOR_EXAMPLE_DATABASE"
	// readyPrefix starts the line the database node prints once it serves;
	// its address follows.
	readyPrefix = "db node listening on "
	// schema is where the demo's table lives.
	schema = "remote_demo"
	// model is the model the database node registers.
	model = "Note"
	// demoTimeout bounds the whole demo, and a client run alone (the wait
	// for a model registration typed by hand included).
	demoTimeout = 30 * time.Second
	// stopTimeout is how long the child may take to exit once told to,
	// before it is killed.
	stopTimeout = 15 * time.Second
	// dbIdentity and clientIdentity are the common names of the nodes'
	// certificates with -tls: their identities (node.DefaultIdentity).
	dbIdentity     = "db"
	clientIdentity = "client"
)

// Note is the model the database node registers (table "notes").
type Note struct {
	ID      int64     `db:"id,pk"`
	Title   string    `db:"title"`
	Stars   int64     `db:"stars"`
	Done    bool      `db:"done"`
	Created time.Time `db:"created"`
}

func main() {
	role := flag.String("role", "", `"" runs the whole demo; "db" the database node alone; "client" the client node alone`)
	addr := flag.String("addr", "", `db: the host:port to listen on (default 127.0.0.1:0, any free port); client: the database node's address`)
	database := flag.String("database", os.Getenv(envDatabase), "database URL of the database node (default: SQLite in a temp dir; env "+envDatabase+")")
	useTLS := flag.Bool("tls", false, "mutual TLS between the nodes, with certificates of a throwaway CA the database node makes at its start")
	certDir := flag.String("certs", "", `with -tls and -role=db or client: the directory of the PEM files (the db node writes them there; the client reads them)`)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch {
	case (*role == "db" || *role == "client") && *useTLS && *certDir == "":
		err = fmt.Errorf("-role=%s -tls needs -certs=<the directory of the certificates>", *role)
	case *certDir != "" && (!*useTLS || *role == ""):
		err = errors.New("-certs goes with -tls and -role=db or -role=client")
	}
	switch {
	case err != nil:
	case *role == "":
		err = demo(ctx, os.Stdout, os.Stderr, *database, *useTLS)
	case *role == "db":
		if *addr == "" {
			*addr = "127.0.0.1:0"
		}
		err = runDB(ctx, os.Stdin, os.Stdout, *addr, *database, *certDir)
	case *role == "client":
		if *addr == "" {
			err = errors.New("-role=client needs -addr=<the database node's host:port>")
			break
		}
		err = runClient(ctx, os.Stdout, *addr, *certDir, byHand{out: os.Stdout})
	default:
		err = fmt.Errorf("unknown -role %q (want db or client, or none)", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "remote:", err)
		stop()
		os.Exit(1)
	}
}

// demo runs the database node as a child process (this executable with
// -role=db) and the client node here; with useTLS, over mutual TLS with
// certificates the child writes into a temp dir.
func demo(ctx context.Context, out, stderr io.Writer, database string, useTLS bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"-role=db", "-addr=127.0.0.1:0"}
	certDir := ""
	if useTLS {
		if certDir, err = os.MkdirTemp("", "dbactor-remote-certs-"); err != nil {
			return err
		}
		defer os.RemoveAll(certDir)
		args = append(args, "-tls", "-certs="+certDir)
	}
	cmd := exec.Command(self, args...)
	// The URL goes by the environment: a password in it would show in ps.
	cmd.Env = append(os.Environ(), envDatabase+"="+database)
	cmd.Stderr = stderr
	return runDemo(ctx, out, cmd, certDir)
}

// runDemo starts cmd, which must run the database node (runDB on its stdin
// and stdout), and runs the client node against it (with certDir: over
// mutual TLS, with the certificates the database node wrote there). The
// child is stopped before runDemo returns, whatever happens.
func runDemo(ctx context.Context, out io.Writer, cmd *exec.Cmd, certDir string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	proc, err := childproc.Start(ctx, cmd, out, "the database node", "db node", readyPrefix, stopTimeout)
	if err != nil {
		return err
	}
	db := child{proc}
	defer func() { err = errors.Join(err, db.stop()) }() // in case runClient did not get to it
	fmt.Fprintf(out, "1. database node started as child process; its address: %s\n", proc.Addr)
	return runClient(ctx, out, proc.Addr, certDir, db)
}

// dbNode is how the client asks the database node for what the protocol
// does not carry: registering a model (which only the registry's own node
// does) and printing its own view of the database.
type dbNode interface {
	register(ctx context.Context, model string) error
	status(ctx context.Context) error
	// stop ends the database node (if this process runs it); idempotent.
	stop() error
	// exits reports whether stop ends the database node.
	exits() bool
}

// runClient is the client node: it attaches to the registry at addr and
// goes through the steps. With certDir, over mutual TLS: it presents the
// "client" certificate found there and accepts only the "db" node.
func runClient(ctx context.Context, out io.Writer, addr, certDir string, db dbNode) (err error) {
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(addr)
	cfg := node.Config{Host: host}
	var ids *identities
	if certDir != "" {
		if cfg.TLS, ids, err = clientTLS(certDir); err != nil {
			return err
		}
	}
	n, err := node.StartClient(cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeNode(n)) }()
	// The database node exits after the client closed and before this node
	// closes (the defers run in reverse). The other way round, the database
	// node's registry, as it closes, still notifies the client's stopped
	// actor here (it watched the registry), and Proto.Actor retries the
	// connection to the departed node for 10 s before giving up.
	defer func() { err = errors.Join(err, db.stop()) }()
	cl, err := n.Attach(addr, node.DefaultName)
	if err != nil {
		return err
	}
	defer func() {
		// Idempotent: after the Close below, this does nothing.
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		err = errors.Join(err, cl.Close(ctx))
	}()
	fmt.Fprintf(out, "2. client node on %s attached to registry %q at %s (messages only, no pool here)\n", n.Address(), node.DefaultName, addr)

	// Connect: the counts are taken on the database node, in the client's
	// name — if this process died, the registry would give them back.
	if err := cl.Connect(ctx); err != nil {
		return err
	}
	mainDB := cl.Database()
	st, err := mainDB.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "3. Connect: main database connected=%v ref_count=%d dialect=%s\n", st.Connected, st.RefCount, st.Dialect)
	if ids != nil {
		// Connect went over both connections between the nodes (one each
		// way), each a mutual TLS handshake.
		if peer := ids.peer.Load(); peer != nil {
			fmt.Fprintf(out, "   over mutual TLS: this node presented certificate %q, the database node %q (the only identity it accepts)\n", ids.own, *peer)
		}
	}
	if err := db.status(ctx); err != nil {
		return err
	}

	// Schemas are created by the database node, asked by message. The
	// DropSchema only clears what an interrupted run may have left.
	_ = cl.DropSchema(ctx, schema, client.IfExists(), client.Cascade())
	if err := cl.CreateSchema(ctx, schema, client.IfNotExists()); err != nil {
		return err
	}
	fmt.Fprintf(out, "4. CreateSchema %s (IfNotExists): done on the database node\n", schema)

	// A callback on this node for registrations on the database node: fn
	// runs in an actor here; it hands the event to this goroutine.
	events := make(chan *messages.ModelRegistered, 1)
	if _, err := cl.RegisterCallbackFunc(ctx, model, func(ev *messages.ModelRegistered) {
		select {
		case events <- ev:
		default:
		}
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "5. RegisterCallbackFunc(%q): the callback actor runs on the client node\n", model)
	if err := db.register(ctx, model); err != nil {
		return err
	}
	select {
	case ev := <-events:
		fmt.Fprintf(out, "6. callback ran on the client node: model=%s table=%s\n", ev.GetName(), ev.GetTable())
	case <-ctx.Done():
		return fmt.Errorf("waiting for the model callback: %w", context.Cause(ctx))
	}

	// Queries by message: the SQL and its typed arguments travel to the
	// database node, which runs them on its pool and sends the rows back.
	ph := func(i int) string { return "?" }
	if st.Dialect == client.Postgres {
		ph = func(i int) string { return "$" + strconv.Itoa(i) }
	}
	table := schema + ".notes"
	if _, err := mainDB.Exec(ctx, `CREATE TABLE `+table+` (id INTEGER PRIMARY KEY, title TEXT NOT NULL, stars INTEGER NOT NULL, done BOOLEAN NOT NULL, created TIMESTAMP NOT NULL)`); err != nil {
		return err
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	insert := fmt.Sprintf(`INSERT INTO %s (id, title, stars, done, created) VALUES (%s, %s, %s, %s, %s)`, table, ph(1), ph(2), ph(3), ph(4), ph(5))
	var inserted int64
	for _, note := range []Note{
		{ID: 1, Title: "write the remote example", Stars: 3, Done: true, Created: created},
		{ID: 2, Title: "benchmark it", Stars: 5, Done: false, Created: created.Add(time.Hour)},
	} {
		rows, err := mainDB.Exec(ctx, insert, note.ID, note.Title, note.Stars, note.Done, note.Created)
		if err != nil {
			return err
		}
		inserted += rows
	}
	fmt.Fprintf(out, "7. Exec: created table %s, inserted %d rows (typed arguments: int64, string, bool, time.Time)\n", table, inserted)
	res, err := mainDB.Query(ctx, `SELECT id, title, stars, done, created FROM `+table+` WHERE stars >= `+ph(1)+` ORDER BY id`, 1)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "8. Query: %d rows\n", len(res.Rows))
	for _, row := range res.Rows {
		fmt.Fprintf(out, "   %s\n", formatRow(res.Columns, row))
	}

	if err := cl.DropSchema(ctx, schema, client.Cascade()); err != nil {
		return err
	}
	if err := cl.Disconnect(ctx); err != nil {
		return err
	}
	st, err = mainDB.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "9. DropSchema %s, Disconnect: main database connected=%v ref_count=%d\n", schema, st.Connected, st.RefCount)
	if err := db.status(ctx); err != nil {
		return err
	}
	if err := cl.Close(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "10. client closed; the registry on the database node keeps running")
	if !db.exits() {
		fmt.Fprintln(out, "11. closing the client node")
		return nil
	}
	if err := db.stop(); err != nil {
		return err
	}
	fmt.Fprintln(out, "11. database node exited; closing the client node")
	return nil
}

// formatRow prints a row as column=value pairs, with Go's types.
func formatRow(cols []client.Column, row []any) string {
	parts := make([]string, len(row))
	for i, v := range row {
		switch v := v.(type) {
		case string:
			parts[i] = fmt.Sprintf("%s=%q", cols[i].Name, v)
		case time.Time:
			parts[i] = fmt.Sprintf("%s=%s", cols[i].Name, v.UTC().Format(time.RFC3339))
		default:
			parts[i] = fmt.Sprintf("%s=%v", cols[i].Name, v)
		}
	}
	return strings.Join(parts, " ")
}

// identities are the client node's identity, from its certificate, and
// the database node's, once a handshake verified it.
type identities struct {
	own  string
	peer atomic.Pointer[string]
}

// clientTLS is the client node's mutual TLS: its certificate and the CA
// from the PEM files in dir, and a check that the peer — on every
// connection, whichever node dialled — is the database node: any node the
// CA signed passes TLS verification, and this client talks to "db" only.
func clientTLS(dir string) (*tls.Config, *identities, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, clientIdentity+".crt"), filepath.Join(dir, clientIdentity+".key"))
	if err != nil {
		return nil, nil, fmt.Errorf("the client's certificate (written by the database node started with -tls -certs=%s): %w", dir, err)
	}
	// LoadX509KeyPair parsed the certificate into Leaf.
	ids := &identities{own: node.DefaultIdentity(cert.Leaf)}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("%s holds no PEM certificate", filepath.Join(dir, "ca.crt"))
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		// One pool: node uses it to verify the peer in both directions.
		RootCAs: pool,
		// Called after the chain is verified against pool.
		VerifyConnection: func(cs tls.ConnectionState) error {
			id := node.DefaultIdentity(cs.PeerCertificates[0])
			if id != dbIdentity {
				return fmt.Errorf("peer %q is not the database node %q", id, dbIdentity)
			}
			ids.peer.Store(&id)
			return nil
		},
	}, ids, nil
}

// writeCerts makes a throwaway CA and, signed by it, the "db" and "client"
// node certificates (for localhost, 127.0.0.1 and ::1: the addresses the
// nodes claim), and writes them into dir as PEM files; it returns the
// database node's.
func writeCerts(dir string) (certs.Files, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return certs.Files{}, err
	}
	ca, err := certs.NewCA("dbactor remote example CA")
	if err != nil {
		return certs.Files{}, err
	}
	var dbFiles certs.Files
	for _, name := range []string{dbIdentity, clientIdentity} {
		cert, err := ca.Issue(name, certs.Options{})
		if err != nil {
			return certs.Files{}, err
		}
		files, err := ca.Write(dir, name, cert)
		if err != nil {
			return certs.Files{}, err
		}
		if name == dbIdentity {
			dbFiles = files
		}
	}
	return dbFiles, nil
}

// demoPolicy is what the database node lets peers do: every peer the
// default — keep databases open (Connect, Disconnect, status) and follow
// model registrations — and the demo's client, by its identity, what its
// steps need beyond that: CreateSchema and DropSchema (OpSchema), Exec
// (OpWrite) and Query (OpRead, which without OpWrite would run
// read-only), on the main database ("") only.
func demoPolicy(client string) node.Policy {
	return node.Policy{
		Default: []node.Grant{{Ops: node.OpLifecycle | node.OpCallbacks}},
		Peers: map[string][]node.Grant{
			client: {{Ops: node.OpSchema | node.OpRead | node.OpWrite, Databases: []string{""}}},
		},
	}
}

// closeNode closes a node, bounded: a client node's remote; a database
// node's registry, then its remote.
func closeNode(n interface{ Close(context.Context) error }) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return n.Close(ctx)
}

// byHand is the dbNode of a client run alone: a person types the
// commands on the database node's terminal.
type byHand struct{ out io.Writer }

func (h byHand) register(ctx context.Context, model string) error {
	fmt.Fprintf(h.out, "   now type `register %s` on the database node's terminal (waiting %s)\n", model, demoTimeout)
	return nil
}

func (byHand) status(context.Context) error { return nil }

func (byHand) stop() error { return nil }

func (byHand) exits() bool { return false }

// child is the database node running as a child process.
type child struct{ *childproc.Child }

func (c child) register(ctx context.Context, model string) error {
	return c.Command(ctx, "register "+model)
}

func (c child) status(ctx context.Context) error { return c.Command(ctx, "status") }

// stop closes the child's stdin — it closes its node and exits — and
// waits for it (killed after stopTimeout).
func (c child) stop() error { return c.Stop() }

func (child) exits() bool { return true }

// runDB is the database node: a registry on database (default: SQLite in a
// temp dir) served on addr; with certDir, over mutual TLS, with the
// certificates it writes there first. It prints its policy and its
// address, then runs the commands it reads from in, answering each with
// one line, until in ends, `exit`, or ctx is done.
func runDB(ctx context.Context, in io.Reader, out io.Writer, addr, database, certDir string) error {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("-addr %q: bad port", addr)
	}
	where := "PostgreSQL/URL from -database"
	if database == "" {
		dir, err := os.MkdirTemp("", "dbactor-remote-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		database = "sqlite:///" + filepath.Join(dir, "app.db")
		where = "SQLite file in a temp dir"
	}
	cfg := node.Config{Host: host, Port: port}
	// In plaintext (on loopback) every peer is "loopback"; with TLS, the
	// client is its certificate's "client".
	client := node.LoopbackIdentity
	if certDir != "" {
		files, err := writeCerts(certDir)
		if err != nil {
			return fmt.Errorf("writing the certificates: %w", err)
		}
		cfg.CertFile, cfg.KeyFile, cfg.CAFile = files.Cert, files.Key, files.CA
		client = clientIdentity
		fmt.Fprintf(out, "mutual TLS: this node presents certificate %q; wrote a throwaway CA and the %q and %q node certificates (PEM) into %s\n", dbIdentity, dbIdentity, clientIdentity, certDir)
	}
	cfg.Policy = demoPolicy(client)
	n, err := dbnode.Start(cfg, registry.Config{Database: database})
	if err != nil {
		return err
	}
	defer func() {
		if err := closeNode(n); err != nil {
			fmt.Fprintln(os.Stderr, "remote: db node:", err)
			return
		}
		fmt.Fprintln(out, "node closed")
	}()
	fmt.Fprintf(out, "policy: every peer may %s (Policy.Default); peer %q may also %s on the main database (Policy.Peers)\n",
		cfg.Policy.Default[0].Ops, client, cfg.Policy.Peers[client][0].Ops)
	fmt.Fprintf(out, "%s%s (registry %q, database: %s)\n", readyPrefix, n.Address(), node.DefaultName, where)

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				fmt.Fprintln(out, "stdin closed: closing the node")
				return nil
			}
			line = strings.TrimSpace(l)
		case <-ctx.Done():
			fmt.Fprintln(out, "interrupted: closing the node")
			return nil
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "":
		case "register":
			m, err := n.Registry.RegisterModel(ctx, Note{}, models.Name(arg))
			if err != nil {
				fmt.Fprintf(out, "error: %v\n", err)
				continue
			}
			fmt.Fprintf(out, "registered model %s (table %s); callbacks notified\n", m.Name(), m.Table())
		case "status":
			st, err := n.Registry.Database().Status(ctx)
			if err != nil {
				fmt.Fprintf(out, "error: %v\n", err)
				continue
			}
			fmt.Fprintf(out, "main database here: connected=%v ref_count=%d\n", st.Connected, st.RefCount)
		case "exit":
			fmt.Fprintln(out, "exit: closing the node")
			return nil
		default:
			fmt.Fprintf(out, "error: unknown command %q (register <Model>, status, exit)\n", line)
		}
	}
}
