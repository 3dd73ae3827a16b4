package smart

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func i64(v int64) *int64 { return &v }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The recorded outputs are written by hand to smartctl's JSON schema: one
// per protocol and outcome the agent has to tell apart.
func TestParseRecorded(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Health
		// msg lists words the message must carry.
		msg []string
	}{
		{"sata-healthy.json", Health{
			Status: Passed, Protocol: ProtocolATA,
			ReallocatedSectors: i64(0), PendingSectors: i64(0), OfflineUncorrectable: i64(0),
			TemperatureCelsius: i64(34), PowerOnHours: i64(19623),
		}, []string{"passed"}},
		{"sata-failing.json", Health{
			Status: Failing, Protocol: ProtocolATA,
			ReallocatedSectors: i64(2376), PendingSectors: i64(12), OfflineUncorrectable: i64(7),
			TemperatureCelsius: i64(38), PowerOnHours: i64(50512),
		}, []string{"self-assessment failed", "attribute 5 Reallocated_Sector_Ct", "self-test log records errors", "error log has entries"}},
		{"sas-healthy.json", Health{
			Status: Passed, Protocol: ProtocolSCSI,
			ReallocatedSectors: i64(3), MediaErrors: i64(0),
			TemperatureCelsius: i64(31), PowerOnHours: i64(42017),
		}, []string{"passed"}},
		{"sas-failing.json", Health{
			Status: Failing, Protocol: ProtocolSCSI,
			ReallocatedSectors: i64(1377), MediaErrors: i64(43),
			TemperatureCelsius: i64(36), PowerOnHours: i64(61002),
		}, []string{"HARDWARE IMPENDING FAILURE"}},
		{"nvme-healthy.json", Health{
			Status: Passed, Protocol: ProtocolNVMe,
			NVMeCriticalWarning: i64(0), MediaErrors: i64(0), PercentageUsed: i64(3),
			TemperatureCelsius: i64(41), PowerOnHours: i64(14872),
		}, []string{"passed"}},
		// 2^64-1 media errors: a 128-bit counter saturates, it is not lost.
		{"nvme-critical.json", Health{
			Status: Failing, Protocol: ProtocolNVMe,
			NVMeCriticalWarning: i64(5), MediaErrors: i64(math.MaxInt64), PercentageUsed: i64(104),
			TemperatureCelsius: i64(47), PowerOnHours: i64(38810),
		}, []string{"0x05", "available spare below threshold", "reliability degraded"}},
		// Only the temperature bit: the cooling's problem, not the drive's.
		{"nvme-hot.json", Health{
			Status: Passed, Protocol: ProtocolNVMe,
			NVMeCriticalWarning: i64(2), MediaErrors: i64(0), PercentageUsed: i64(0),
			TemperatureCelsius: i64(84), PowerOnHours: i64(310),
		}, []string{"temperature above or below"}},
		{"loop-unsupported.json", Health{Status: NotSupported}, []string{"Unable to detect device type"}},
		{"usb-unsupported.json", Health{Status: NotSupported}, []string{"Unknown USB bridge"}},
		{"sata-no-smart.json", Health{Status: NotSupported, Protocol: ProtocolATA}, []string{"no SMART capability"}},
		{"sata-standby.json", Health{Status: Unknown, Protocol: ProtocolATA}, []string{"low-power mode", "STANDBY"}},
		{"open-failed.json", Health{Status: Unknown}, []string{"exit status 2", "Permission denied"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Parse(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.msg {
				if !strings.Contains(got.Message, w) {
					t.Errorf("message %q lacks %q", got.Message, w)
				}
			}
			got.Message = ""
			if d := diff(got, tc.want); d != "" {
				t.Errorf("Parse: %s", d)
			}
		})
	}
}

// diff names the fields of got that differ from want.
func diff(got, want Health) string {
	var out []string
	if got.Status != want.Status {
		out = append(out, "status "+string(got.Status)+", want "+string(want.Status))
	}
	if got.Protocol != want.Protocol {
		out = append(out, "protocol "+got.Protocol+", want "+want.Protocol)
	}
	for _, f := range []struct {
		name      string
		got, want *int64
	}{
		{"reallocated", got.ReallocatedSectors, want.ReallocatedSectors},
		{"pending", got.PendingSectors, want.PendingSectors},
		{"offlineUncorrectable", got.OfflineUncorrectable, want.OfflineUncorrectable},
		{"criticalWarning", got.NVMeCriticalWarning, want.NVMeCriticalWarning},
		{"mediaErrors", got.MediaErrors, want.MediaErrors},
		{"percentageUsed", got.PercentageUsed, want.PercentageUsed},
		{"temperature", got.TemperatureCelsius, want.TemperatureCelsius},
		{"powerOnHours", got.PowerOnHours, want.PowerOnHours},
	} {
		if show(f.got) != show(f.want) {
			out = append(out, f.name+" "+show(f.got)+", want "+show(f.want))
		}
	}
	return strings.Join(out, "; ")
}

func show(p *int64) string {
	if p == nil {
		return "absent"
	}
	return strconv.FormatInt(*p, 10)
}

// Edge cases written inline: each isolates one rule of the status.
func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		status  Status
		msg     string
		wantErr bool
	}{
		{"empty", ``, "", "", true},
		{"not JSON", `smartctl 7.2 2020-12-30 r5155`, "", "", true},
		{"JSON of something else", `{"blockdevices": []}`, "", "", true},
		{"array", `[1, 2]`, "", "", true},
		{"no assessment", `{"smartctl": {"exit_status": 0}}`, Unknown, "no overall health", false},
		{"exit bit 3 without smart_status", `{"smartctl": {"exit_status": 8}}`, Failing, "DISK FAILING", false},
		{"exit bit 4 alone", `{"smartctl": {"exit_status": 16}, "smart_status": {"passed": true}}`, Failing, "pre-failure attribute", false},
		{"attribute failed in the past only", `{"smartctl": {"exit_status": 32}, "smart_status": {"passed": true},
			"ata_smart_attributes": {"table": [{"id": 3, "name": "Spin_Up_Time", "when_failed": "past", "raw": {"value": 0, "string": "0"}}]}}`,
			Passed, "in the past", false},
		{"attribute failing now", `{"smartctl": {"exit_status": 16}, "smart_status": {"passed": true},
			"ata_smart_attributes": {"table": [{"id": 3, "name": "Spin_Up_Time", "when_failed": "now", "raw": {"value": 0, "string": "0"}}]}}`,
			Failing, "attribute 3 Spin_Up_Time", false},
		{"SMART disabled", `{"smartctl": {"exit_status": 4}, "smart_support": {"available": true, "enabled": false}}`, Unknown, "disabled", false},
		{"NVMe read-only", `{"smartctl": {"exit_status": 8}, "smart_status": {"passed": false}, "nvme_smart_health_information_log": {"critical_warning": 8}}`,
			Failing, "read-only", false},
		{"NVMe unknown bit", `{"smartctl": {"exit_status": 8}, "nvme_smart_health_information_log": {"critical_warning": 64}}`,
			Failing, "unknown bits 0x40", false},
		{"NVMe passes although exit bit 3 is set for temperature", `{"smartctl": {"exit_status": 8}, "smart_status": {"passed": false}, "nvme_smart_health_information_log": {"critical_warning": 2}}`,
			Passed, "temperature", false},
		// A field of another type is skipped; the rest still counts.
		{"field of the wrong type", `{"smartctl": {"exit_status": 0}, "temperature": "hot", "smart_status": {"passed": true}}`, Passed, "passed", false},
		{"command failed without assessment", `{"smartctl": {"exit_status": 4, "messages": [{"string": "Read SMART Data failed: Input/output error", "severity": "error"}]}}`,
			Unknown, "Input/output error", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse error = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got.Status != tc.status || !strings.Contains(got.Message, tc.msg) {
				t.Errorf("Parse = %s %q, want %s with %q", got.Status, got.Message, tc.status, tc.msg)
			}
		})
	}
}

func TestParseCounters(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		get  func(Health) *int64
		want *int64
	}{
		// The raw string is the drive database's reading of a packed raw
		// value: its first number is the count.
		{"packed raw value", `{"smartctl": {}, "ata_smart_attributes": {"table": [{"id": 5, "raw": {"value": 281483566645248, "string": "0 (2 0)"}}]}}`,
			func(h Health) *int64 { return h.ReallocatedSectors }, i64(0)},
		{"hex raw string falls back to the value", `{"smartctl": {}, "ata_smart_attributes": {"table": [{"id": 197, "raw": {"value": 9, "string": "0x000000000009"}}]}}`,
			func(h Health) *int64 { return h.PendingSectors }, i64(9)},
		{"negative counter is absent", `{"smartctl": {}, "power_on_time": {"hours": -3}}`,
			func(h Health) *int64 { return h.PowerOnHours }, nil},
		{"negative temperature is kept", `{"smartctl": {}, "temperature": {"current": -5}}`,
			func(h Health) *int64 { return h.TemperatureCelsius }, i64(-5)},
		{"huge counter saturates", `{"smartctl": {}, "nvme_smart_health_information_log": {"media_errors": 1e40}}`,
			func(h Health) *int64 { return h.MediaErrors }, i64(math.MaxInt64)},
		{"SCSI uncorrected errors add up, saturating", `{"smartctl": {}, "scsi_error_counter_log": {"read": {"total_uncorrected_errors": 9223372036854775807}, "write": {"total_uncorrected_errors": 5}}}`,
			func(h Health) *int64 { return h.MediaErrors }, i64(math.MaxInt64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(h); show(got) != show(tc.want) {
				t.Errorf("got %s, want %s", show(got), show(tc.want))
			}
		})
	}
}

func TestMessageBounded(t *testing.T) {
	long := strings.Repeat("é", 400)
	in := `{"smartctl": {"exit_status": 2, "messages": [` +
		`{"string": "` + long + `", "severity": "error"}, {"string": "` + long + `", "severity": "error"}, {"string": "` + long + `", "severity": "error"}]}}`
	h, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Message) > MaxMessageBytes || !utf8.ValidString(h.Message) {
		t.Errorf("message of %d bytes (valid UTF-8: %v), want at most %d", len(h.Message), utf8.ValidString(h.Message), MaxMessageBytes)
	}
}

// FuzzParse feeds arbitrary bytes, seeded with the recorded outputs. Parse
// must not panic, and a report it accepts must be publishable: a known
// status, a bounded valid message, no negative counter, and the same
// answer twice.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"smartctl": {"exit_status": 8}, "nvme_smart_health_information_log": {"critical_warning": 255, "media_errors": 1e400}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Parse(data)
		if err != nil {
			return
		}
		switch h.Status {
		case Passed, Failing, Unknown, NotSupported:
		default:
			t.Fatalf("status %q", h.Status)
		}
		if h.Message == "" || len(h.Message) > MaxMessageBytes || !utf8.ValidString(h.Message) {
			t.Fatalf("message %q (%d bytes)", h.Message, len(h.Message))
		}
		if len(h.Protocol) > 16 {
			t.Fatalf("protocol %q", h.Protocol)
		}
		for _, c := range []*int64{h.ReallocatedSectors, h.PendingSectors, h.OfflineUncorrectable, h.NVMeCriticalWarning, h.MediaErrors, h.PercentageUsed, h.PowerOnHours} {
			if c != nil && *c < 0 {
				t.Fatalf("negative counter %d", *c)
			}
		}
		again, _ := Parse(data)
		if diff(again, h) != "" || again.Message != h.Message {
			t.Fatalf("Parse is not deterministic: %s", diff(again, h))
		}
	})
}
