// Command plots draws how dbactor's costs grow with size — the Scale
// benchmarks of tests/bench — as PNG files, and prints the slope of each
// curve. scripts/bench.sh runs it on bench.out after the benchmarks:
//
//	go run . -in ../../../bench.out -out ../../../docs
//
// It is a module of its own, so that the plotting library (gonum/plot)
// stays out of dbactor's module graph.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

func main() {
	in := flag.String("in", "bench.out", "go test -bench output")
	out := flag.String("out", "docs", "directory for the PNG files")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		fail(err)
	}
	if len(res) == 0 {
		fail(fmt.Errorf("%s has no Scale benchmarks", *in))
	}
	for _, c := range charts {
		if err := c.draw(res, *out, os.Stdout); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "plots:", err)
	os.Exit(1)
}

// results maps a benchmark's name (without the -N suffix) to its metrics;
// a repeated benchmark keeps its last run.
type results map[string]map[string]float64

var line = regexp.MustCompile(`^(BenchmarkScale\S*?)(-\d+)?\s+\d+\s+(.*)$`)

func parse(r io.Reader) (results, error) {
	res := results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", m[1], f[i], err)
			}
			metrics[f[i+1]] = v
		}
		res[m[1]] = metrics
	}
	return res, sc.Err()
}

// A series is one curve: points (size, value) from benchmarks named
// prefix + "/databases=N", or from one benchmark's metrics unit@N.
type series struct {
	label  string
	bench  string // BenchmarkScaleSQLite: sub-benchmarks databases=N
	metric string // per sub-benchmark; or, with at, the prefix of unit@N
	at     bool
}

func (s series) points(res results) plotter.XYs {
	var xy plotter.XYs
	if s.at {
		for unit, v := range res[s.bench] {
			if n, ok := strings.CutPrefix(unit, s.metric+"@"); ok {
				x, err := strconv.ParseFloat(n, 64)
				if err == nil {
					xy = append(xy, plotter.XY{X: x, Y: v})
				}
			}
		}
	} else {
		for name, m := range res {
			n, ok := strings.CutPrefix(name, s.bench+"/databases=")
			if !ok {
				continue
			}
			x, err := strconv.ParseFloat(n, 64)
			if v, has := m[s.metric]; err == nil && has {
				xy = append(xy, plotter.XY{X: x, Y: v})
			}
		}
	}
	slices.SortFunc(xy, func(a, b plotter.XY) int { return int(a.X - b.X) })
	return xy
}

// slope is the least-squares slope of log(y) over log(x): 0 when the cost
// per unit stays flat, 1 when it grows in proportion to size.
func slope(xy plotter.XYs) float64 {
	if len(xy) < 2 {
		return math.NaN()
	}
	var sx, sy, sxx, sxy float64
	for _, p := range xy {
		x, y := math.Log(p.X), math.Log(p.Y)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(xy))
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

type chart struct {
	file, title, x, y string
	series            []series
}

var charts = []chart{
	{"scale-connect.png", "Connect and disconnect, per database", "databases in the registry", "µs per database",
		[]series{
			{"SQLite connect", "BenchmarkScaleSQLite", "connect-µs/db", false},
			{"SQLite disconnect", "BenchmarkScaleSQLite", "disconnect-µs/db", false},
			{"PostgreSQL connect", "BenchmarkScalePostgres", "connect-µs/db", false},
			{"PostgreSQL disconnect", "BenchmarkScalePostgres", "disconnect-µs/db", false},
		}},
	{"scale-memory.png", "Idle registry heap, per database", "databases in the registry", "bytes per database",
		[]series{
			{"SQLite", "BenchmarkScaleSQLite", "heap-B/db", false},
			{"PostgreSQL", "BenchmarkScalePostgres", "heap-B/db", false},
		}},
	{"scale-models.png", "Model registration fanned out to 8 callbacks", "models registered", "µs per registration",
		[]series{
			{"registration", "BenchmarkScaleModels", "register-µs", true},
		}},
}

func (c chart) draw(res results, dir string, w io.Writer) error {
	p := plot.New()
	p.Title.Text = c.title
	p.X.Label.Text = c.x
	p.Y.Label.Text = c.y
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var args []any
	for _, s := range c.series {
		xy := s.points(res)
		if len(xy) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s, %s: slope %.2f over %v\n", c.title, s.label, slope(xy), xs(xy))
		args = append(args, fmt.Sprintf("%s (slope %.2f)", s.label, slope(xy)), xy)
	}
	if len(args) == 0 {
		return nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top = false // bottom right, below the curves of costly dials
	return p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, c.file))
}

func xs(xy plotter.XYs) []float64 {
	out := make([]float64, len(xy))
	for i, p := range xy {
		out[i] = p.X
	}
	return out
}
