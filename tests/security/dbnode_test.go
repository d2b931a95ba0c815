package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

// maxDeadline is the database node's MaxDeadline: the furthest ahead a
// peer's request may set its deadline (short, so D5 ends soon).
const maxDeadline = 3 * time.Second

// widget is the model the database node registers (table "widgets") and
// the shape of the probe models it registers on command.
type widget struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

// policy is the database node's: the victim may do everything; the
// reader may read (and keep open) main and lite; the schemer may run
// schema DDL; everyone else has the default grant (lifecycle, callbacks).
func policy() node.Policy {
	return node.Policy{Peers: map[string][]node.Grant{
		"victim":  {{Ops: node.OpAll}},
		"reader":  {{Ops: node.OpRead | node.OpLifecycle, Databases: []string{"", liteName}}},
		"schemer": {{Ops: node.OpSchema | node.OpLifecycle}},
	}}
}

// migrations are the database node's own migrations (migrate.Serve): a
// table for main and one for lite, which no peer in the suite may apply.
func migrations() fstest.MapFS {
	m := &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE migrated (id integer);\n-- +goose Down\nDROP TABLE migrated;\n")}
	return fstest.MapFS{migrate.MainDir + "/00001_migrated.sql": m, liteName + "/00001_migrated.sql": m}
}

// eventLog keeps the trust-boundary and release events the node publishes.
type eventLog struct {
	mu      sync.Mutex
	base    int // the number of the first event kept (trim forgets the others)
	events  []proto.Message
	changed chan struct{} // closed and replaced on every new event
}

// next is the number the next event will have.
func (l *eventLog) next() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base + len(l.events)
}

// trim forgets every event so far (so that they do not count in "heap").
func (l *eventLog) trim() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base += len(l.events)
	l.events = nil
}

func (l *eventLog) add(m proto.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, m)
	close(l.changed)
	l.changed = make(chan struct{})
}

// filter is a condition on an event's string fields: name=value (equal)
// or name~value (contains).
type filter struct {
	field    string
	value    string
	contains bool
}

func parseFilters(args []string) ([]filter, error) {
	var fs []filter
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			fs = append(fs, filter{field: k, value: v})
			continue
		}
		if k, v, ok := strings.Cut(a, "~"); ok {
			fs = append(fs, filter{field: k, value: v, contains: true})
			continue
		}
		return nil, fmt.Errorf("filter %q: want field=value or field~value", a)
	}
	return fs, nil
}

func (f filter) match(m proto.Message) bool {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(protoreflect.Name(f.field))
	if fd == nil {
		return false
	}
	var s string
	if fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == "dbactor.messages.v1.Pid" {
		p := r.Get(fd).Message()
		s = p.Get(fd.Message().Fields().ByName("address")).String() + "/" + p.Get(fd.Message().Fields().ByName("id")).String()
	} else {
		s = r.Get(fd).String()
	}
	if f.contains {
		return strings.Contains(s, f.value)
	}
	return s == f.value
}

// await waits up to wait for at least n events of typ (its short name:
// "MessageDropped") after the first since, matching every filter, and
// returns all such events and whether there were n.
func (l *eventLog) await(since int, typ string, n int, wait time.Duration, fs []filter) ([]proto.Message, bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		l.mu.Lock()
		var got []proto.Message
		for _, ev := range l.events[min(max(since-l.base, 0), len(l.events)):] {
			if typ != "*" && string(ev.ProtoReflect().Descriptor().Name()) != typ {
				continue
			}
			ok := true
			for _, f := range fs {
				ok = ok && f.match(ev)
			}
			if ok {
				got = append(got, ev)
			}
		}
		changed := l.changed
		l.mu.Unlock()
		if len(got) >= n {
			return got, true
		}
		select {
		case <-changed:
		case <-timer.C:
			return got, false
		}
	}
}

// awaitResult is the answer to await and events.
type awaitResult struct {
	Complete bool        `json:"complete"`
	Events   []eventJSON `json:"events"`
}

type eventJSON struct {
	Type string          `json:"type"`
	JSON json.RawMessage `json:"json"`
}

// memWatch samples the heap while a statement runs (D4).
type memWatch struct {
	stop chan struct{}
	done chan memStats
}

var memSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/gc/heap/allocs:bytes"},
}

func readMem() (heap, total, allocs uint64) {
	s := append([]metrics.Sample(nil), memSamples...)
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
}

func startMemWatch() *memWatch {
	w := &memWatch{stop: make(chan struct{}), done: make(chan memStats, 1)}
	var st memStats
	var allocBase uint64
	st.HeapBase, st.TotalBase, allocBase = readMem()
	st.HeapPeak, st.TotalPeak = st.HeapBase, st.TotalBase
	go func() {
		// A measurement, not a synchronisation: sample until told to stop.
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			h, t, a := readMem()
			st.HeapPeak, st.TotalPeak, st.Allocated = max(st.HeapPeak, h), max(st.TotalPeak, t), a-allocBase
			st.Samples++
			select {
			case <-w.stop:
				w.done <- st
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// roleDB is the database node. Commands (each answered "OK …" or "ERR …"):
//
//	mark                              the number of events so far
//	await <since> <Type> <n> <ms> [f] awaitResult: ≥ n events of Type
//	                                  after since matching the filters
//	                                  (field=value, field~value), within ms
//	status                            "main=<refcount> lite=<refcount>"
//	register <Name>                   registers a model (callbacks fire)
//	memwatch start|stop               memStats between the two
//	trim                              forgets the events so far
//	heap                              live heap bytes after a GC
func roleDB(out *testnode.Out) error {
	dir := os.Getenv(envCertDir)
	ncfg := node.Config{
		CertFile:    filepath.Join(dir, "db.crt"),
		KeyFile:     filepath.Join(dir, "db.key"),
		CAFile:      filepath.Join(dir, "ca.crt"),
		MaxDeadline: maxDeadline,
		Policy:      policy(),
		Logger:      logger(),
	}
	reg := registry.Config{Database: os.Getenv(envPGDSN), Extra: map[string]string{liteName: os.Getenv(envLiteDSN)}}
	n, err := dbnode.Start(ncfg, reg)
	if err != nil {
		return err
	}
	log := &eventLog{changed: make(chan struct{})}
	n.System.EventStream.Subscribe(func(ev any) {
		switch m := ev.(type) {
		case *messages.AccessDenied, *messages.MessageDropped, *messages.CallerReleased:
			log.add(m.(proto.Message))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err = n.Registry.RegisterModel(ctx, widget{}, models.Name("Widget"))
	if err == nil {
		err = n.Registry.CreateAll(ctx)
	}
	if err != nil {
		cancel()
		return fmt.Errorf("registering the widget model: %w", err)
	}
	// Migrations the node serves (M1): one for main, one for lite.
	err = migrate.Serve(ctx, n.Registry, migrations())
	cancel()
	if err != nil {
		return fmt.Errorf("serving migrations: %w", err)
	}
	out.Printf("ADDR %s", n.Address())

	var watch *memWatch
	testnode.Commands(os.Stdin, func(cmd string, args []string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var res string
		var err error
		switch cmd {
		case "mark":
			res = strconv.Itoa(log.next())
		case "trim":
			log.trim()
		case "await":
			res, err = awaitCommand(log, args)
		case "status":
			var parts []string
			for _, db := range n.Registry.Databases() {
				st, e := db.Status(ctx)
				if e != nil {
					err = e
					break
				}
				name := db.Name()
				if name == "" {
					name = "main"
				}
				parts = append(parts, fmt.Sprintf("%s=%d", name, st.RefCount))
			}
			res = strings.Join(parts, " ")
		case "register":
			if len(args) != 1 {
				err = errors.New("usage: register <Name>")
				break
			}
			_, err = n.Registry.RegisterModel(ctx, widget{}, models.Name(args[0]))
		case "heap":
			// The live heap after a full collection.
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			res = strconv.FormatUint(ms.HeapAlloc, 10)
		case "memwatch":
			switch {
			case len(args) == 1 && args[0] == "start" && watch == nil:
				watch = startMemWatch()
			case len(args) == 1 && args[0] == "stop" && watch != nil:
				close(watch.stop)
				st := <-watch.done
				watch = nil
				b, _ := json.Marshal(st)
				res = string(b)
			default:
				err = errors.New("usage: memwatch start|stop (in that order)")
			}
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		if err != nil {
			out.Printf("ERR %s: %v", cmd, err)
		} else {
			out.Printf("OK %s", res)
		}
		return true
	})
	if watch != nil {
		close(watch.stop)
		<-watch.done
	}
	// The parent's node and the attackers have gone or are going: close the
	// registry (its pools) and let the exit take the listener.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return n.Registry.Close(ctx)
}

func awaitCommand(log *eventLog, args []string) (string, error) {
	if len(args) < 4 {
		return "", errors.New("usage: await <since> <Type> <n> <ms> [field=value|field~value…]")
	}
	since, err1 := strconv.Atoi(args[0])
	n, err2 := strconv.Atoi(args[2])
	ms, err3 := strconv.Atoi(args[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", err
	}
	fs, err := parseFilters(args[4:])
	if err != nil {
		return "", err
	}
	evs, complete := log.await(since, args[1], n, time.Duration(ms)*time.Millisecond, fs)
	res := awaitResult{Complete: complete, Events: []eventJSON{}}
	for _, ev := range evs {
		b, err := protojson.Marshal(ev)
		if err != nil {
			return "", err
		}
		res.Events = append(res.Events, eventJSON{Type: string(ev.ProtoReflect().Descriptor().Name()), JSON: b})
	}
	b, err := json.Marshal(res)
	return string(b), err
}
