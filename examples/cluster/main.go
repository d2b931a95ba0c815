// Command cluster runs dbactor registries as a Proto.Actor cluster kind
// (dbnode.Kind) on a two-member cluster: two processes on 127.0.0.1 that find
// each other with the automanaged provider (a static list of HTTP health
// endpoints). Every member registers the kind; a registry is addressed by
// its name — its identity — from any member (node.ClusterClient), and the
// cluster activates it on the member the identity hashes to, where its
// database pool then lives.
//
// With no flags it runs the whole demo: it picks two free ports for the
// members' automanaged endpoints (remote itself listens on any free port),
// starts member 2 as a child process (this program again, with
// -role=member), starts member 1 itself, and waits until both members see
// each other. Then, for each of the registries "billing" and "audit", member
// 1 connects by name, creates a table, inserts and queries rows, asks member
// 2 to read the same table by name, and disconnects — printing which member
// hosts the registry. Finally member 1 leaves the cluster and member 2 exits.
//
//	go run ./examples/cluster                          # the whole demo, SQLite files in a temp dir
//	go run ./examples/cluster -database='postgres://…' # or DBACTOR_EXAMPLE_DATABASE=…
//
// Both registries get their own SQLite file; with -database they share that
// one database (their tables have different names).
//
// Or one member per terminal (automanaged endpoints 6330 and 6331 by
// default). All members need the same -hosts, and the same -dir (the
// default is shared) so that a registry finds its SQLite file whichever
// member hosts it:
//
//	go run ./examples/cluster -role=member -port=6330
//	go run ./examples/cluster -role=member -port=6331
//
// A member reads commands on its stdin, one per line: `members` lists the
// members it sees (`members 2` waits until it sees two), `use <registry>`
// runs member 1's steps above against billing or audit, `read <registry>`
// counts the rows of its table (the demo's member 2 does it while member 1
// holds the table), `leave` leaves the cluster and exits, as Ctrl-C does:
// gracefully (2 s) while it sees other members, at once when it is alone.
// At the end of stdin (Ctrl-D) the member exits at once, without telling
// the cluster: the demo's member 2 does that, after member 1 has left.
// Stop one member at a time: two members leaving at the same moment can
// make Proto.Actor panic as it stops remote (see member.leave).
//
// The automanaged provider serves its health endpoint on 0.0.0.0 (every
// interface) and prints echo's "⇨ http server started on [::]:PORT" line
// on stdout; neither can be changed through its API.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/examples/internal/childproc"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

const (
	// envDatabase is the environment variable naming the database URL when
	// -database is not given.
	envDatabase = "DBACTOR_EXAMPLE_DATABASE"
	// clusterName is the cluster's name: members of other clusters that
	// answer on the same endpoints are ignored.
	clusterName = "dbactor-example"
	// readyPrefix starts the line a member prints once it has joined; its
	// address follows.
	readyPrefix = "member listening on "
	// refresh is how often the automanaged provider polls the endpoints
	// (its default, 2 s, makes the cluster slow to form and to notice a
	// member leaving).
	refresh = 300 * time.Millisecond
	// demoTimeout bounds the whole demo, and each command of a member.
	demoTimeout = 30 * time.Second
	// formTimeout bounds the wait for the members to see each other.
	formTimeout = 10 * time.Second
	// stopTimeout is how long member 2 may take to exit once told to,
	// before it is killed.
	stopTimeout = 15 * time.Second
	// envChild is set in the environment of the demo's member 2: it
	// ignores Ctrl-C, which the terminal sends to both processes, and
	// exits when the demo closes its stdin — after member 1 has left.
	envChild = "DBACTOR_EXAMPLE_CLUSTER_CHILD"
)

// identities are the registries of the demo: the cluster identities that
// configs knows.
var identities = []string{"billing", "audit"}

func main() {
	role := flag.String("role", "", `"" runs the whole demo; "member" runs one member`)
	port := flag.Int("port", 6330, "member: the port of this member's automanaged endpoint (on 0.0.0.0)")
	hosts := flag.String("hosts", "127.0.0.1:6330,127.0.0.1:6331", "member: the automanaged endpoints of all the members, comma-separated")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "dbactor-cluster-example"), "member: the directory of the registries' SQLite files (without -database)")
	database := flag.String("database", os.Getenv(envDatabase), "database URL of both registries (default: an SQLite file each; env "+envDatabase+")")
	verbose := flag.Bool("verbose", false, "log Proto.Actor's messages on stderr (the automanaged provider logs an error per poll of a member that is not up yet)")
	flag.Parse()

	var ctx context.Context
	var stop context.CancelFunc
	if os.Getenv(envChild) != "" {
		// Member 2 of the demo ignores Ctrl-C: member 1 leaves first, then
		// closes this member's stdin (see demo). Two members leaving at
		// once can make Proto.Actor panic (see member.leave).
		signal.Ignore(os.Interrupt)
		ctx, stop = context.WithCancel(context.Background())
	} else {
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt)
	}
	defer stop()
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var err error
	switch *role {
	case "":
		err = demo(ctx, os.Stdout, os.Stderr, *database, logger, *verbose)
	case "member":
		err = runMember(ctx, os.Stdin, os.Stdout, *port, strings.Split(*hosts, ","), *dir, *database, logger)
	default:
		err = fmt.Errorf("unknown -role %q (want member, or none)", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		stop()
		os.Exit(1)
	}
}

// configs configures the registries of identities: each on its own SQLite
// file in dir, or all on database when it is set. Any other identity is
// unknown: a client of it gets ErrInvalidConfig.
func configs(dir, database string) dbnode.Configs {
	return func(identity string) (registry.Config, []registry.Option, error) {
		if !slices.Contains(identities, identity) {
			return registry.Config{}, nil, fmt.Errorf("unknown registry (this cluster has %s)", strings.Join(identities, " and "))
		}
		if database != "" {
			return registry.Config{Database: database}, nil, nil
		}
		return registry.Config{Database: "sqlite:///" + filepath.Join(dir, identity+".db")}, nil, nil
	}
}

// where describes the databases, for the output.
func where(database string) string {
	if database != "" {
		return "one database from -database"
	}
	return "an SQLite file each"
}

// member is a cluster member running in this process.
type member struct {
	c    *cluster.Cluster
	addr string
	sub  *eventstream.Subscription

	mu      sync.Mutex
	seen    []string      // the members' addresses in the latest topology, sorted
	changed chan struct{} // closed (and replaced) when seen changes

	leaveOnce sync.Once
	leaving   leaving
}

// leaving is how a member left the cluster.
type leaving struct {
	graceful bool          // with a cluster shutdown (else it was alone)
	took     time.Duration // how long the shutdown took
	err      error         // Proto.Actor panicked
}

func (l leaving) String() string {
	switch {
	case l.err != nil:
		return fmt.Sprintf("left the cluster in %v, but %v", l.took.Round(100*time.Millisecond), l.err)
	case l.graceful:
		return fmt.Sprintf("left the cluster gracefully in %v", l.took.Round(100*time.Millisecond))
	}
	return "alone in the cluster: exiting without a cluster shutdown"
}

// startMember starts a member that serves its automanaged endpoint on port
// (of 0.0.0.0) and finds the others at hosts; remote listens on 127.0.0.1,
// any free port. It hosts the registry kind with configs.
func startMember(port int, hosts []string, configs dbnode.Configs, logger *slog.Logger) (m *member, err error) {
	// The provider listens in a goroutine of its own and only logs a
	// failure (the member would never be seen): check the port first.
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("automanaged port %d: %w", port, err)
	}
	l.Close()

	sys := registry.NewActorSystem(logger)
	m = &member{changed: make(chan struct{})}
	// The topology events tell who the members are (MemberList.Members
	// reads its set without the list's lock).
	m.sub = sys.EventStream.Subscribe(func(ev any) {
		if top, ok := ev.(*cluster.ClusterTopology); ok {
			addrs := make([]string, 0, len(top.GetMembers()))
			for _, mb := range top.GetMembers() {
				addrs = append(addrs, mb.Address())
			}
			slices.Sort(addrs)
			m.mu.Lock()
			m.seen = addrs
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
		}
	})
	// Harden: drop what would crash the deserializer, recover panics, keep
	// the connections between members alive, bind each peer to its address
	// (see node.Harden). The members are one deployment: they trust each
	// other (on loopback, in plaintext; give them certificates and their
	// identities elsewhere).
	hardened, err := node.Harden(sys, node.Config{Logger: logger, Trusted: []string{node.LoopbackIdentity}})
	if err != nil {
		return nil, err
	}
	m.c = cluster.New(sys, cluster.Configure(clusterName,
		automanaged.NewWithConfig(refresh, port, hosts...), disthash.New(),
		remote.Configure("127.0.0.1", 0, hardened...),
		cluster.WithKinds(dbnode.Kind(configs))))
	// StartMember panics when remote or the provider fails to start; it
	// sleeps 1 s at the end, while the provider polls the endpoints.
	defer func() {
		if r := recover(); r != nil {
			sys.EventStream.Unsubscribe(m.sub)
			m, err = nil, fmt.Errorf("starting the cluster member: %v", r)
		}
	}()
	m.c.StartMember()
	m.addr = sys.Address()
	return m, nil
}

// waitMembers waits until the member sees exactly n members (any number
// for 0), and returns their addresses.
func (m *member) waitMembers(ctx context.Context, n int) ([]string, error) {
	for {
		m.mu.Lock()
		seen, changed := m.seen, m.changed
		m.mu.Unlock()
		if n == 0 || len(seen) == n {
			return seen, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("member %s sees %d of %d members (%s): %w", m.addr, len(seen), n, strings.Join(seen, ", "), context.Cause(ctx))
		}
	}
}

// leave leaves the cluster (once). While the member sees others, it
// leaves gracefully, which takes Proto.Actor 2 s: the others learn it by
// gossip, and its registries move to them at their next call. Alone, it
// does nothing — the process exit ends it: no one is left to tell, and a
// graceful remote shutdown would spend about 9 s redialling the members
// that have gone.
//
// Proto.Actor's remote can panic (send on closed channel in
// endpointManager.stop) when a peer's connection to this member ends while
// it stops — two members leaving at the same moment do that: the panic is
// recovered and returned.
func (m *member) leave() leaving {
	m.leaveOnce.Do(func() {
		m.mu.Lock()
		alone := len(m.seen) <= 1
		m.mu.Unlock()
		if alone {
			return
		}
		m.leaving.graceful = true
		start := time.Now()
		defer func() {
			m.leaving.took = time.Since(start)
			if r := recover(); r != nil {
				m.leaving.err = fmt.Errorf("remote panicked as Proto.Actor stopped it: %v", r)
			}
		}()
		m.c.ActorSystem.EventStream.Unsubscribe(m.sub)
		m.c.Shutdown(true)
	})
	return m.leaving
}

// hostOf is the address of the member that hosts identity's registry: the
// address of its activation's PID. The lookup activates it if need be.
func (m *member) hostOf(ctx context.Context, identity string) (string, error) {
	found := make(chan string, 1)
	// Get has a timeout of its own (5 s) and no ctx.
	go func() { found <- m.c.Get(identity, node.KindName).GetAddress() }()
	select {
	case addr := <-found:
		if addr == "" {
			return "", fmt.Errorf("no activation of registry %q", identity)
		}
		return addr, nil
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// demo runs member 2 as a child process (this executable with
// -role=member) and member 1 here.
func demo(ctx context.Context, out, stderr io.Writer, database string, logger *slog.Logger, verbose bool) (err error) {
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	hosts := []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])}
	dir, err := os.MkdirTemp("", "dbactor-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(out, "1. cluster %q on 127.0.0.1: automanaged endpoints %s (member 1, this process) and %s (member 2, a child process); registries %s on %s\n",
		clusterName, hosts[0], hosts[1], strings.Join(identities, " and "), where(database))

	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-role=member", "-port="+strconv.Itoa(ports[1]), "-hosts="+strings.Join(hosts, ","), "-dir="+dir, "-verbose="+strconv.FormatBool(verbose))
	// The URL goes by the environment: a password in it would show in ps.
	cmd.Env = append(os.Environ(), envDatabase+"="+database, envChild+"=1")
	cmd.Stderr = stderr
	child, err := childproc.Start(ctx, cmd, out, "member 2", "member 2", readyPrefix, stopTimeout)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, child.Stop()) }()
	fmt.Fprintf(out, "2. member 2 started as a child process: %s\n", child.Addr)

	start := time.Now()
	m, err := startMember(ports[0], hosts, configs(dir, database), logger)
	if err != nil {
		return err
	}
	// Member 1 leaves first, then member 2 exits (the defers run in
	// reverse). This order is the fast one that leaves nothing behind:
	// member 1 leaves while member 2 is still up, so its graceful shutdown
	// (2 s, fixed by Proto.Actor) closes its connections cleanly and no
	// gRPC dial is retried; member 2 then has no one left to tell and exits
	// at once, without a cluster shutdown — its process takes its
	// goroutines and listeners along, and its registries closed their
	// pools at the last Disconnect: about 2 s in all, and member 1 is
	// left with only Proto.Actor's log throttles, which end by themselves.
	// The other way round (measured), member 2's graceful leave takes its
	// 2 s too (4 s in all), and member 1, leaving after it, is left with a
	// gRPC connection to the departed member that keeps redialling
	// (grpc.addrConn.resetTransport) — and with a peer gone, a graceful
	// remote shutdown may also wait for Proto.Actor's endpoint writer to
	// give up dialling it (5 tries, 2 s apart).
	defer func() {
		if err != nil {
			err = errors.Join(err, m.leave().err)
		}
	}()
	fmt.Fprintf(out, "3. member 1 started in this process: %s\n", m.addr)

	formCtx, formCancel := context.WithTimeout(ctx, formTimeout)
	defer formCancel()
	seen, err := m.waitMembers(formCtx, 2)
	if err != nil {
		return err
	}
	if err := child.Command(formCtx, "members 2"); err != nil {
		return err
	}
	fmt.Fprintf(out, "4. cluster formed %v after member 1 started: member 1 sees %s\n", time.Since(start).Round(time.Millisecond), strings.Join(seen, " and "))

	label := func(addr string) string {
		switch addr {
		case m.addr:
			return "member 1 (this process, " + addr + ")"
		case child.Addr:
			return "member 2 (the child process, " + addr + ")"
		}
		return addr
	}
	for i, identity := range identities {
		fmt.Fprintf(out, "%d. registry %q, addressed by name from member 1:\n", 5+i, identity)
		also := func(ctx context.Context) error { return child.Command(ctx, "read "+identity) }
		if err := useRegistry(ctx, out, m, identity, label, also); err != nil {
			return fmt.Errorf("registry %q: %w", identity, err)
		}
	}

	step := 5 + len(identities)
	left := m.leave()
	fmt.Fprintf(out, "%d. member 1 %v\n", step, left)
	if left.err != nil {
		return left.err
	}
	if err := child.Stop(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d. member 2 exited\n", step+1)
	return nil
}

// useRegistry addresses the registry identity by name from member m:
// connect, create a table, insert and query rows, run also (while the
// table exists), drop the table, disconnect, close. label describes a
// member's address.
func useRegistry(ctx context.Context, out io.Writer, m *member, identity string, label func(string) string, also func(context.Context) error) (err error) {
	cl, err := node.ClusterClient(m.c, identity)
	if err != nil {
		return err
	}
	defer func() {
		// Idempotent: after the Close below, this does nothing.
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		err = errors.Join(err, cl.Close(ctx))
	}()
	host, err := m.hostOf(ctx, identity)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   hosted on %s\n", label(host))

	if err := cl.Connect(ctx); err != nil {
		return err
	}
	db := cl.Database()
	st, err := db.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   Connect: connected=%v ref_count=%d dialect=%s\n", st.Connected, st.RefCount, st.Dialect)

	table := identity + "_entries"
	ph := "?"
	if st.Dialect == client.Postgres {
		ph = "$"
	}
	// Clear what an interrupted run may have left (a PostgreSQL database
	// outlives the demo).
	if _, err := db.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, "CREATE TABLE "+table+" (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"); err != nil {
		return err
	}
	insert := fmt.Sprintf("INSERT INTO %s (id, note) VALUES (%s, %s)", table, placeholder(ph, 1), placeholder(ph, 2))
	var inserted int64
	for id := int64(1); id <= 2; id++ {
		n, err := db.Exec(ctx, insert, id, fmt.Sprintf("%s entry %d", identity, id))
		if err != nil {
			return err
		}
		inserted += n
	}
	fmt.Fprintf(out, "   Exec: created table %s, inserted %d rows\n", table, inserted)
	res, err := db.Query(ctx, "SELECT id, note FROM "+table+" ORDER BY id")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   Query: %d rows\n", len(res.Rows))
	for _, row := range res.Rows {
		fmt.Fprintf(out, "     id=%v note=%q\n", row[0], row[1])
	}
	if also != nil {
		if err := also(ctx); err != nil {
			return err
		}
	}

	if _, err := db.Exec(ctx, "DROP TABLE "+table); err != nil {
		return err
	}
	if err := cl.Disconnect(ctx); err != nil {
		return err
	}
	if st, err = db.Status(ctx); err != nil {
		return err
	}
	if err := cl.Close(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "   dropped %s; Disconnect: connected=%v ref_count=%d; client closed\n", table, st.Connected, st.RefCount)
	return nil
}

// placeholder is the i-th statement parameter: "?" (SQLite) or "$i"
// (PostgreSQL).
func placeholder(ph string, i int) string {
	if ph == "$" {
		return "$" + strconv.Itoa(i)
	}
	return ph
}

// readRegistry counts, from member m, the rows of the table of identity's
// registry, addressed by name, and prints where its activation runs.
func readRegistry(ctx context.Context, out io.Writer, m *member, identity string) (err error) {
	cl, err := node.ClusterClient(m.c, identity)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		err = errors.Join(err, cl.Close(ctx))
	}()
	host, err := m.hostOf(ctx, identity)
	if err != nil {
		return err
	}
	if err := cl.Connect(ctx); err != nil {
		return err
	}
	table := identity + "_entries"
	res, err := cl.Database().Query(ctx, "SELECT count(*) FROM "+table)
	if err != nil {
		return errors.Join(err, cl.Disconnect(ctx))
	}
	if err := cl.Disconnect(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "read %s by name: %v rows in %s (activation on %s)\n", identity, res.Rows[0][0], table, host)
	return nil
}

// freePorts returns n TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		// Held until all are picked, so that the n differ.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("picking a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// runMember is a member alone: it joins the cluster, prints its address,
// and runs the commands it reads from in, until in ends (it exits),
// `leave`, or ctx is done (it leaves the cluster: see member.leave).
func runMember(ctx context.Context, in io.Reader, out io.Writer, port int, hosts []string, dir, database string, logger *slog.Logger) error {
	if database == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	m, err := startMember(port, hosts, configs(dir, database), logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s%s (automanaged endpoint on port %d; registries %s on %s)\n", readyPrefix, m.addr, port, strings.Join(identities, " and "), where(database))

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	leave := func(why string) error {
		fmt.Fprintf(out, "%s: leaving the cluster\n", why)
		left := m.leave()
		fmt.Fprintln(out, left)
		return left.err
	}
	label := func(addr string) string {
		if addr == m.addr {
			return "this member (" + addr + ")"
		}
		return "member " + addr
	}
	for {
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				// Whoever started this member is gone, or done: exit
				// without a cluster shutdown, which would wait for the
				// members that have left already (see demo).
				fmt.Fprintln(out, "stdin closed: exiting")
				return nil
			}
			line = strings.TrimSpace(l)
		case <-ctx.Done():
			return leave("interrupted")
		}
		cmd, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		cmdCtx, cancel := context.WithTimeout(ctx, demoTimeout)
		err := func() error {
			switch cmd {
			case "":
			case "members":
				n := 0
				if arg != "" {
					var err error
					if n, err = strconv.Atoi(arg); err != nil {
						return fmt.Errorf("members %q: want a number", arg)
					}
				}
				wait, cancel := context.WithTimeout(cmdCtx, formTimeout)
				defer cancel()
				seen, err := m.waitMembers(wait, n)
				if err != nil {
					return err
				}
				noun := "members"
				if len(seen) == 1 {
					noun = "member"
				}
				fmt.Fprintf(out, "sees %d %s: %s\n", len(seen), noun, strings.Join(seen, " and "))
			case "use", "read":
				if arg == "" {
					return fmt.Errorf("%s <registry> (%s)", cmd, strings.Join(identities, " or "))
				}
				if cmd == "read" {
					return readRegistry(cmdCtx, out, m, arg)
				}
				return useRegistry(cmdCtx, out, m, arg, label, nil)
			case "leave":
				return errLeave
			default:
				return fmt.Errorf("unknown command %q (members [n], use <registry>, read <registry>, leave)", line)
			}
			return nil
		}()
		cancel()
		if errors.Is(err, errLeave) {
			return leave("leave")
		}
		if err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
		}
	}
}

// errLeave is the `leave` command's way out of the command loop.
var errLeave = errors.New("leave")
