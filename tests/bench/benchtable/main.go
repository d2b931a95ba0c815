// Command benchtable reads `go test -bench` output on stdin and prints the
// performance targets of tests/bench as a Markdown table: benchmark, dbactor
// figure, reference figure, ratio, target, result.
//
//	go test -run='^$' -bench=. -benchmem -count=5 ./tests/bench/ | go run ./tests/bench/benchtable
//
// A pair target (P1, P2, P3, P5, P6, P7) is judged on one benchmark that
// measured both sides in alternation (tests/bench's pair) and reported
// ns/op, ref-ns/op, ratio, ratio-lo and ratio-hi; the others (P4, M) report
// their own figures with b.ReportMetric. Other benchmarks, and pairs named
// …/dbactor and …/reference, are listed without a target. The ID (P1 … P6,
// M) selects the target; the
// -N GOMAXPROCS suffix is ignored, and repeated runs (-count, or several
// outputs concatenated) are reduced to their median. The exit status is 1
// when a target fails, when a target has no benchmark in the input (unless
// -allow-missing), or when the input reports a failed benchmark.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	allowMissing := flag.Bool("allow-missing", false, "do not fail for targets without a benchmark in the input (for partial runs such as -bench=P1)")
	flag.Parse()
	in, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	if len(in.names) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results on stdin")
		os.Exit(2)
	}
	rep := evaluate(in, *allowMissing)
	rep.write(os.Stdout)
	if !rep.ok {
		os.Exit(1)
	}
}

// A target is the requirement for the benchmarks of one ID.
type target struct {
	id   string
	text string // the Target column
	eval func(r *row) verdict
}

// targets is the target table, keyed by the benchmark ID prefix.
var targets = []target{
	{id: "P1", text: "≥ 0.98 (reference ÷ dbactor; fails only if the whole 95 % interval is below)", eval: func(r *row) verdict {
		return interval(r, func(v float64) float64 { return 1 / v }, 0.98, true)
	}},
	{id: "P2", text: "≤ 2.5 (dbactor ÷ 2 × reference; fails only if the whole 95 % interval is above)", eval: func(r *row) verdict {
		return interval(r, func(v float64) float64 { return v / 2 }, 2.5, false)
	}},
	{id: "P3", text: "≤ 1.15 (dbactor ÷ reference; fails only if the whole 95 % interval is above)", eval: func(r *row) verdict {
		return interval(r, func(v float64) float64 { return v }, 1.15, false)
	}},
	{id: "P4", text: "ms-to-error ≤ ms-limit; sessions-left = goroutines-left = 0", eval: evalRollback},
	{id: "P5", text: "≤ 2 (dbactor ÷ reference, per registration delivered to 8, i.e. ≥ 0.5 × the reference's deliveries/s; fails only if the whole 95 % interval is above)", eval: func(r *row) verdict {
		v := interval(r, func(v float64) float64 { return v }, 2, false)
		if v.ref == "" { // not a pair: the error says what is missing
			return v
		}
		if r.own.has("deliveries/s") {
			v.own += "; " + number(r.own.median("deliveries/s"), 0) + " deliveries/s"
		}
		if r.own.has("ref-deliveries/s") {
			v.ref += "; " + number(r.own.median("ref-deliveries/s"), 0) + " deliveries/s"
		}
		return v
	}},
	{id: "P6", text: "≤ 1.3 (dbactor ÷ reference; fails only if the whole 95 % interval is above)", eval: func(r *row) verdict {
		return interval(r, func(v float64) float64 { return v }, 1.3, false)
	}},
	{id: "P7", text: "≤ 1.2 (dbactor ÷ (remote round trip + local query); fails only if the whole 95 % interval is above)", eval: func(r *row) verdict {
		return interval(r, func(v float64) float64 { return v }, 1.2, false)
	}},
	{id: "M", text: "report", eval: func(r *row) verdict {
		const unit = "heap-B/registry"
		if err := r.own.need(unit); err != nil {
			return failed(err)
		}
		own := r.own.cell(unit, 0)
		if r.own.has("heap-B/database") {
			own += "; " + r.own.cell("heap-B/database", 0)
		}
		return verdict{own: own, ratio: "—", result: "report"}
	}},
}

// minRounds is the fewest rounds a pair is judged on.
const minRounds = 10

const (
	nsop        = "ns/op"
	allocsop    = "allocs/op"
	refNsop     = "ref-ns/op"
	refAllocsop = "ref-allocs/op"
)

// evalRollback checks P4: the median time to the error against the limit,
// and the worst run's leftovers (one leak is a leak).
func evalRollback(r *row) verdict {
	for _, u := range []string{"ms-to-error", "ms-limit", "sessions-left", "goroutines-left"} {
		if err := r.own.need(u); err != nil {
			return failed(err)
		}
	}
	took, limit := r.own.median("ms-to-error"), r.own.median("ms-limit")
	sessions, goroutines := r.own.max("sessions-left"), r.own.max("goroutines-left")
	own := r.own.cell("ms-to-error", 1)
	if r.own.has("ms-to-error-max") {
		own += fmt.Sprintf(" (max of runs %s)", number(r.own.max("ms-to-error-max"), 1))
	}
	own += fmt.Sprintf("; sessions-left %s, goroutines-left %s (max)", number(sessions, 0), number(goroutines, 0))
	return verdict{
		own:    own,
		ref:    r.own.cell("ms-limit", 0),
		ratio:  ratio(took / limit),
		pass:   took <= limit && sessions == 0 && goroutines == 0,
		judged: true,
	}
}

// nsCell is a benchmark's ns/op (median, with the spread of the runs).
func nsCell(s *series) string { return s.cell(nsop, 0) }

// interval judges a pair benchmark (tests/bench's pair): its ratio
// (dbactor ÷ reference) and 95 % interval, mapped by f to the target's
// terms, must not lie wholly beyond limit — below it when higher (the
// target is a minimum), above it otherwise.
func interval(r *row, f func(float64) float64, limit float64, higher bool) verdict {
	for _, u := range []string{nsop, refNsop, "ratio", "ratio-lo", "ratio-hi", "rounds"} {
		if err := r.own.need(u); err != nil {
			return failed(err)
		}
	}
	if n := r.own.median("rounds"); n < minRounds {
		// A few rounds give an interval wide enough to pass anything.
		return failed(fmt.Errorf("%s: %.0f rounds, too few to judge (at least %d)", r.base, n, minRounds))
	}
	v, a, b := f(r.own.median("ratio")), f(r.own.median("ratio-lo")), f(r.own.median("ratio-hi"))
	lo, hi := min(a, b), max(a, b)
	pass := lo <= limit
	if higher {
		pass = hi >= limit
	}
	return verdict{
		own:    sideCell(r.own, nsop, allocsop),
		ref:    sideCell(r.own, refNsop, refAllocsop),
		ratio:  fmt.Sprintf("%s [%s, %s]", ratio(v), ratio(lo), ratio(hi)),
		pass:   pass,
		judged: true,
	}
}

// sideCell is one side of a pair benchmark: its ns/op and allocs/op.
func sideCell(s *series, ns, allocs string) string {
	c := number(s.median(ns), 0) + " ns/op"
	if s.has(allocs) {
		c += ", " + number(s.median(allocs), 0) + " allocs/op"
	}
	return c
}

func failed(err error) verdict {
	return verdict{own: err.Error(), ratio: "—", judged: true}
}

// A verdict is one row's cells and result.
type verdict struct {
	own, ref, ratio string
	pass            bool
	judged          bool   // pass/FAIL applies
	result          string // when not judged
}

// series is the runs of one benchmark: unit → one value per run.
type series struct {
	name string
	runs map[string][]float64
}

func (s *series) has(unit string) bool { return s != nil && len(s.runs[unit]) > 0 }

func (s *series) need(unit string) error {
	switch {
	case s == nil:
		return errors.New("missing benchmark")
	case !s.has(unit):
		return fmt.Errorf("%s reports no %q", s.name, unit)
	}
	return nil
}

// median is the median of the runs' values of unit; NaN without any (s
// may be nil: a missing benchmark).
func (s *series) median(unit string) float64 {
	if !s.has(unit) {
		return math.NaN()
	}
	v := slices.Clone(s.runs[unit])
	sort.Float64s(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func (s *series) max(unit string) float64 {
	if !s.has(unit) {
		return math.NaN()
	}
	return slices.Max(s.runs[unit])
}

// spread is half the interquartile range of the runs relative to their
// median, in percent.
func (s *series) spread(unit string) float64 {
	v := slices.Clone(s.runs[unit])
	if len(v) < 2 {
		return 0
	}
	sort.Float64s(v)
	return (quantile(v, 0.75) - quantile(v, 0.25)) / 2 / s.median(unit) * 100
}

// quantile interpolates the q-quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// cell formats the median of unit, with the spread when there are several
// runs.
func (s *series) cell(unit string, decimals int) string {
	c := number(s.median(unit), decimals) + " " + unit
	if len(s.runs[unit]) > 1 {
		c += fmt.Sprintf(" ±%.0f%%", s.spread(unit))
	}
	return c
}

// input is the parsed benchmark output.
type input struct {
	names   []string // benchmark names in order of first appearance
	results map[string]*series
	failed  []string // benchmarks or packages reported as failed
	context []string // goos, goarch, pkg, cpu lines
}

var (
	procsSuffix = regexp.MustCompile(`-\d+$`)
	dupSuffix   = regexp.MustCompile(`#\d+$`)
	failLine    = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)
)

// parse reads go test -bench output: result lines, failures and the
// goos/goarch/cpu context; everything else is ignored.
func parse(r io.Reader) (*input, error) {
	in := &input{results: map[string]*series{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if m := failLine.FindStringSubmatch(line); m != nil {
			in.failed = append(in.failed, m[1])
			continue
		}
		if strings.HasPrefix(line, "FAIL\t") || line == "FAIL" {
			in.failed = append(in.failed, strings.TrimSpace(strings.TrimPrefix(line, "FAIL")))
			continue
		}
		if strings.HasPrefix(line, "cpu: ") && !slices.Contains(in.context, line) {
			in.context = append(in.context, line)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		// name, iterations, then value-unit pairs.
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark's name printed alone (verbose output) or a log line
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := dupSuffix.ReplaceAllString(procsSuffix.ReplaceAllString(f[0], ""), "")
		s := in.results[name]
		if s == nil {
			s = &series{name: name, runs: map[string][]float64{}}
			in.results[name] = s
			in.names = append(in.names, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: bad value %q for %s", name, f[i], f[i+1])
			}
			s.runs[f[i+1]] = append(s.runs[f[i+1]], v)
		}
	}
	return in, sc.Err()
}

// A row is one benchmark or pair.
type row struct {
	base     string // name without /dbactor or /reference
	own, ref *series
}

// id is the target ID of a benchmark: P<n> or M, else "".
var idPattern = regexp.MustCompile(`^Benchmark(P\d+|M)`)

func idOf(name string) string {
	if m := idPattern.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// rows pairs the results by base name, in order of first appearance.
func rows(in *input) []*row {
	var out []*row
	byBase := map[string]*row{}
	for _, name := range in.names {
		base, side := name, ""
		if b, ok := strings.CutSuffix(name, "/dbactor"); ok {
			base, side = b, "dbactor"
		} else if b, ok := strings.CutSuffix(name, "/reference"); ok {
			base, side = b, "reference"
		}
		r := byBase[base]
		if r == nil {
			r = &row{base: base}
			byBase[base] = r
			out = append(out, r)
		}
		if side == "reference" {
			r.ref = in.results[name]
		} else {
			r.own = in.results[name]
		}
	}
	return out
}

// report is the table and whether every target passed.
type report struct {
	lines []string
	notes []string
	ok    bool
}

func evaluate(in *input, allowMissing bool) *report {
	rep := &report{ok: true}
	rep.lines = append(rep.lines,
		"| benchmark | dbactor | reference | ratio | target | result |",
		"| --- | ---: | ---: | ---: | --- | --- |")
	add := func(name string, v verdict, tgt string) {
		res := v.result
		if v.judged {
			res = "pass"
			if !v.pass {
				res = "**FAIL**"
				rep.ok = false
			}
		}
		ref := v.ref
		if ref == "" {
			ref = "—"
		}
		rep.lines = append(rep.lines, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |",
			strings.TrimPrefix(name, "Benchmark"), v.own, ref, v.ratio, tgt, res))
	}
	seen := map[string]bool{}
	all := rows(in)
	for _, t := range targets {
		for _, r := range all {
			if idOf(r.base) != t.id {
				continue
			}
			seen[t.id] = true
			add(r.base, t.eval(r), t.text)
		}
		if !seen[t.id] {
			v := verdict{own: "no benchmark in the input", ratio: "—", judged: !allowMissing, result: "not run"}
			add(t.id+"*", v, t.text)
		}
	}
	for _, r := range all {
		if id := idOf(r.base); id != "" && slices.ContainsFunc(targets, func(t target) bool { return t.id == id }) {
			continue
		}
		if strings.HasPrefix(r.base, "BenchmarkScale") {
			continue // plotted (tests/bench/plots), not tabled
		}
		v := verdict{ratio: "—", result: "—"}
		if r.own != nil && r.own.has(nsop) {
			v.own = nsCell(r.own)
		}
		if r.ref != nil && r.ref.has(nsop) {
			v.ref = nsCell(r.ref)
		}
		if r.own.has("ratio") {
			v.ref, v.ratio = sideCell(r.own, refNsop, refAllocsop), ratio(r.own.median("ratio"))
		}
		add(r.base, v, "—")
	}
	runs := 0
	for _, s := range in.results {
		runs = max(runs, len(s.runs[nsop]))
	}
	rep.notes = append(rep.notes, fmt.Sprintf("Figures are medians of up to %d runs; ± is half the interquartile range of the runs relative to the median. "+
		"A pair (P1, P2, P3, P5, P6, P7) is measured in one process, alternating rounds of each side: its figures are the medians over the rounds, "+
		"its ratio the geometric mean of the per-round ratios with a 95 %% confidence interval in brackets (Student's t on their logarithms).", runs))
	rep.notes = append(rep.notes, in.context...)
	for _, f := range in.failed {
		rep.ok = false
		rep.notes = append(rep.notes, "FAILED: "+f)
	}
	return rep
}

func (rep *report) write(w io.Writer) {
	for _, l := range rep.lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	for _, n := range rep.notes {
		fmt.Fprintln(w, n)
	}
}

// number formats v with thousands separators.
func number(v float64, decimals int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	s := strconv.FormatFloat(math.Abs(v), 'f', decimals, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

func ratio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}
