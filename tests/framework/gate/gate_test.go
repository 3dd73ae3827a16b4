package gate

import "testing"

func TestOn(t *testing.T) {
	const name = "CEPH_OPERATOR_GATE_TEST"
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{"", false},
		{"0", false},
		{"1", true},
		{"yes", true},
	} {
		t.Setenv(name, tt.value)
		if got := On(name); got != tt.want {
			t.Errorf("On with %s=%q = %v, want %v", name, tt.value, got, tt.want)
		}
	}
}

func TestEnvSkipsWhenOff(t *testing.T) {
	const name = "CEPH_OPERATOR_GATE_TEST"
	t.Setenv(name, "")
	ran := false
	t.Run("off", func(t *testing.T) {
		Env(t, name, "off")
		ran = true
	})
	if ran {
		t.Error("Env did not skip a test whose switch is off")
	}
	t.Setenv(name, "1")
	t.Run("on", func(t *testing.T) {
		Env(t, name, "on")
		ran = true
	})
	if !ran {
		t.Error("Env skipped a test whose switch is on")
	}
}

func TestNeedSkipsWhenMissingAndOff(t *testing.T) {
	const name = "CEPH_OPERATOR_GATE_TEST"
	t.Setenv(name, "")
	ran := false
	t.Run("missing", func(t *testing.T) {
		Need(t, name, "/nonexistent/ceph-operator-gate-test", "missing")
		ran = true
	})
	if ran {
		t.Error("Need did not skip a test whose file is missing and whose switch is off")
	}
	t.Setenv(name, "1")
	t.Run("present", func(t *testing.T) {
		Need(t, name, "gate.go", "present")
		ran = true
	})
	if !ran {
		t.Error("Need skipped a test whose file exists")
	}
}
