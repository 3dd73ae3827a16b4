package promtext

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	raw := []byte(`# HELP x_total A counter.
# TYPE x_total counter
x_total{verb="GET",resource="pods",note="a,b"} 3
x_total{verb="LIST",resource="pods"} 1.5e+01
x_total_other{verb="GET"} 7
x_total 2
`)
	got := Parse(raw, "x_total")
	want := []Sample{
		{Labels: map[string]string{"verb": "GET", "resource": "pods", "note": "a,b"}, Value: 3},
		{Labels: map[string]string{"verb": "LIST", "resource": "pods"}, Value: 15},
		{Labels: map[string]string{}, Value: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %+v\nwant %+v", got, want)
	}
}
