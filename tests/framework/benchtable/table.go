// Package benchtable is the one table a benchmark prints at its end: rows
// of figures with the commit they were measured on and the machine's load,
// printed and written to a file under bin/bench/ so that runs on different
// commits can be compared side by side.
package benchtable

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// Table is a benchmark's figures: a header row, then one row per figure.
type Table struct {
	// Title says what was measured (the benchmark and its size).
	Title string
	// Header names the columns.
	Header []string
	rows   [][]string
	notes  []string
	// loadStart is /proc/loadavg when the table was started.
	loadStart string
	started   time.Time
}

// New starts a table; it notes the load average now, since other work on
// the machine changes every figure.
func New(title string, header ...string) *Table {
	return &Table{Title: title, Header: header, loadStart: loadAvg(), started: time.Now()}
}

// Row adds a row; missing cells are left blank.
func (t *Table) Row(cells ...string) { t.rows = append(t.rows, cells) }

// Note adds a line printed under the table.
func (t *Table) Note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// String renders the table with aligned columns, its title, the commit and
// the load averages at its start and end.
func (t *Table) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", t.Title)
	fmt.Fprintf(&b, "commit %s; %s UTC; took %s; load average (1, 5, 15 min) %s at start, %s at end; %d CPUs\n",
		commit(), t.started.UTC().Format("2006-01-02 15:04"), time.Since(t.started).Round(time.Second),
		t.loadStart, loadAvg(), runtime.NumCPU())
	rows := append([][]string{t.Header}, t.rows...)
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	widths := make([]int, width)
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for n, r := range rows {
		for i := range widths {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			fmt.Fprintf(&b, "| %s%s ", c, strings.Repeat(" ", widths[i]-len([]rune(c))))
		}
		b.WriteString("|\n")
		if n == 0 {
			for i := range widths {
				fmt.Fprintf(&b, "|%s", strings.Repeat("-", widths[i]+2))
			}
			b.WriteString("|\n")
		}
	}
	for _, n := range t.notes {
		fmt.Fprintf(&b, "%s\n", n)
	}
	return b.String()
}

// Save prints the table and writes it to bin/bench/<name>.txt in the
// repository (the latest run) and appends it to bin/bench/<name>.history
// (every run), and returns the file's path.
func (t *Table) Save(name string) (string, error) {
	text := t.String()
	fmt.Print(text)
	dir := filepath.Join(testenv.RepoRoot(), "bin", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", err
	}
	h, err := os.OpenFile(filepath.Join(dir, name+".history"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := h.WriteString(text + "\n"); err != nil {
		_ = h.Close()
		return "", err
	}
	return path, h.Close()
}

// Ratio formats a/b with two decimals, "-" when b is zero.
func Ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a.Seconds()/b.Seconds())
}

// Secs formats a duration in seconds with one decimal.
func Secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// MB formats a byte count in MiB.
func MB(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

// commit is the repository's HEAD, with "+changes" when the work tree
// differs from it.
func commit() string {
	root := testenv.RepoRoot()
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+changes"
	}
	return c
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
