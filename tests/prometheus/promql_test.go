package prometheus

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// metricNames returns the metric names a PromQL expression selects, sorted
// and without duplicates. It is a lexer, not a parser (the operator's
// module does not depend on Prometheus): it removes what cannot hold a
// metric name (string literals, label matchers, ranges, grouping clauses,
// Grafana variables, numbers), then sorts the remaining identifiers into
// functions (followed by a parenthesis; each must be one of promqlFuncs),
// keywords, and metric names. It refuses what it cannot read safely: a
// selector by __name__, an unknown function, unbalanced brackets.
// `promtool check rules` parses the rules for real.
func metricNames(expr string) ([]string, error) {
	if strings.Contains(expr, "__name__") {
		return nil, fmt.Errorf("selects by __name__, which this check cannot follow: %q", expr)
	}
	s := stringLit.ReplaceAllString(expr, `""`)
	for _, re := range []*regexp.Regexp{grafanaVar, grouping, braces, brackets, offset} {
		s = re.ReplaceAllString(s, " ")
	}
	if strings.ContainsAny(s, "{}[]") {
		return nil, fmt.Errorf("unbalanced or nested brackets: %q", expr)
	}
	if strings.Count(s, "(") != strings.Count(s, ")") {
		return nil, fmt.Errorf("unbalanced parentheses: %q", expr)
	}
	var names []string
	for _, m := range ident.FindAllStringSubmatchIndex(s, -1) {
		word := s[m[2]:m[3]]
		rest := strings.TrimLeft(s[m[3]:], " \t\n")
		switch {
		case keywords[strings.ToLower(word)]:
		case strings.HasPrefix(rest, "("):
			if !promqlFuncs[word] {
				return nil, fmt.Errorf("unknown function %s in %q", word, expr)
			}
		default:
			names = append(names, word)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

var (
	// stringLit: double- and single-quoted strings with escapes, and raw
	// strings in backquotes.
	stringLit = regexp.MustCompile("\"(?:\\\\.|[^\"\\\\])*\"|'(?:\\\\.|[^'\\\\])*'|`[^`]*`")
	// grafanaVar: $var, ${var} and ${var:format}, outside strings (in a
	// range such as [$__rate_interval]).
	grafanaVar = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)
	// grouping: by, without, on, ignoring, group_left and group_right with
	// their label lists.
	grouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	braces   = regexp.MustCompile(`\{[^{}]*\}`)
	brackets = regexp.MustCompile(`\[[^\[\]]*\]`)
	offset   = regexp.MustCompile(`\boffset\s+-?[0-9a-zA-Z]+|@\s*(?:start\(\)|end\(\)|[0-9.]+)`)
	// ident is an identifier not preceded by a character of a word or a
	// number (so the e3 of 1e3 and the h of 1h are not identifiers).
	ident = regexp.MustCompile(`(?:^|[^A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)`)
)

// keywords are PromQL's words that are not metric names.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"inf": true, "nan": true, "atan2": true,
	"group_left": true, "group_right": true, "on": true, "ignoring": true, "by": true, "without": true,
}

// promqlFuncs are PromQL's aggregations and functions.
var promqlFuncs = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`
		sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
		abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week
		day_of_year days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction
		histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters double_exponential_smoothing
		hour idelta increase irate label_join label_replace ln log2 log10 minute month predict_linear rate
		resets round scalar sgn sort sort_desc sort_by_label sort_by_label_desc sqrt time timestamp vector year
		avg_over_time min_over_time max_over_time sum_over_time count_over_time quantile_over_time
		stddev_over_time stdvar_over_time last_over_time present_over_time mad_over_time
		acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh deg rad pi`) {
		promqlFuncs[f] = true
	}
}

func TestMetricNames(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`max by (namespace, cluster) (a{x="y", z=~"by|on"}) - ignoring(state) b > 0`, []string{"a", "b"}},
		{`sum(rate(x_total{job="$job"}[$__rate_interval])) / 1e3 * 2h`, []string{"x_total"}},
		{`a and on (namespace) changes(b[1h]) == 0 or c offset 5m unless d @ 100`, []string{"a", "b", "c", "d"}},
		{`floor(max(m) / 2) + 1 < bool Inf`, []string{"m"}},
		{`sum without (instance) (x) > NaN`, []string{"x"}},
		{`a{l="}{"} + b`, []string{"a", "b"}},
		{`max_over_time(x[30m:1m])`, []string{"x"}},
		{"(a > 0)\nor\n(b - c) unless(d)", []string{"a", "b", "c", "d"}},
	} {
		got, err := metricNames(tt.expr)
		if err != nil {
			t.Errorf("metricNames(%q): %v", tt.expr, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
	for _, bad := range []string{`{__name__="x"}`, `nosuchfunc(x)`, `label_values(x, job)`, `sum(x`, `x[5m`} {
		if got, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q) = %q, want an error", bad, got)
		}
	}
}
