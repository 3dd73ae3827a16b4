// Package smart turns what `smartctl --json --all` printed about one drive
// into a short health summary: an overall status and the few counters that
// predict a failure (reallocated and pending sectors, NVMe critical
// warnings, media errors, wear) with the drive's temperature and age.
//
// It is pure: Parse reads bytes and runs nothing. The caller runs smartctl
// (smartmontools 7.0 or newer, whose JSON output this reads) and hands over
// its standard output whatever its exit status, because smartctl's exit
// status is a bit mask that is non-zero for perfectly readable reports; the
// same mask is repeated in the JSON as smartctl.exit_status.
//
// How the status is decided:
//
//   - NotSupported: smartctl cannot talk to the device as a drive (a loop
//     or virtio device: "Unable to detect device type"; a USB enclosure it
//     does not know: "Unknown USB bridge"), or the drive has no SMART
//     capability.
//   - Failing: the drive's own assessment says it is failing (ATA SMART
//     RETURN STATUS, the SCSI informational exception, NVMe critical
//     warnings other than temperature), or an ATA attribute is at or below
//     its failure threshold now. Counters such as reallocated sectors are
//     published but do not decide on their own: many healthy drives carry
//     a few, and the vendor's thresholds already weigh them.
//   - Passed: the drive reported an overall assessment and nothing above.
//   - Unknown: anything else: the device could not be opened, it was in
//     standby and not woken, SMART is disabled, or the output carries no
//     assessment.
package smart

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is the overall health of one drive.
type Status string

const (
	// Passed means the drive assessed itself healthy.
	Passed Status = "Passed"
	// Failing means the drive predicts (or shows) its own failure.
	Failing Status = "Failing"
	// Unknown means the health could not be read this time.
	Unknown Status = "Unknown"
	// NotSupported means the device reports no health at all.
	NotSupported Status = "NotSupported"
)

// MaxMessageBytes bounds Health.Message, so that a chatty smartctl cannot
// make a status too large to publish.
const MaxMessageBytes = 512

// Protocols as smartctl's device.protocol names them.
const (
	ProtocolATA  = "ATA"
	ProtocolSCSI = "SCSI"
	ProtocolNVMe = "NVMe"
)

// Exit status bits of smartctl (its man page, "RETURN VALUES").
const (
	// ExitCommandLine: the command line did not parse, or the device type
	// could not be detected.
	ExitCommandLine = 1 << 0
	// ExitOpenFailed: the device could not be opened, did not identify
	// itself, or is in a low-power mode it was asked not to leave.
	ExitOpenFailed = 1 << 1
	// ExitCommandFailed: a SMART or other command to the drive failed.
	ExitCommandFailed = 1 << 2
	// ExitDiskFailing: the SMART status check returned "DISK FAILING".
	ExitDiskFailing = 1 << 3
	// ExitPrefailAttribute: a pre-failure attribute is at or below its
	// threshold.
	ExitPrefailAttribute = 1 << 4
	// ExitPastThreshold: the drive is OK now but some attribute was at or
	// below its threshold in the past.
	ExitPastThreshold = 1 << 5
	// ExitErrorLog: the drive's error log has entries.
	ExitErrorLog = 1 << 6
	// ExitSelfTestErrors: the self-test log records errors.
	ExitSelfTestErrors = 1 << 7
)

// NVMe critical warning bits (NVMe base specification, SMART / Health
// Information log, byte 0).
const (
	NVMeSpareBelowThreshold = 1 << 0
	NVMeTemperature         = 1 << 1
	NVMeReliabilityDegraded = 1 << 2
	NVMeReadOnly            = 1 << 3
	NVMeVolatileBackup      = 1 << 4
	NVMePersistentMemory    = 1 << 5
)

// ATA attribute ids whose raw values are published.
const (
	attrReallocated          = 5
	attrPending              = 197
	attrOfflineUncorrectable = 198
)

// Health is the summary of one drive's health. A nil counter means the
// drive did not report it (an NVMe drive has no reallocated sectors, an
// ATA drive no critical warning).
type Health struct {
	// Status is the overall verdict.
	Status Status
	// Message says why in words: what failed, or why nothing is known.
	Message string
	// Protocol is ATA, SCSI or NVMe, when smartctl identified the device.
	Protocol string
	// ReallocatedSectors is ATA attribute 5's raw value, or a SCSI drive's
	// grown defect list length.
	ReallocatedSectors *int64
	// PendingSectors is ATA attribute 197's raw value: sectors waiting to
	// be remapped.
	PendingSectors *int64
	// OfflineUncorrectable is ATA attribute 198's raw value.
	OfflineUncorrectable *int64
	// NVMeCriticalWarning is the NVMe critical warning byte.
	NVMeCriticalWarning *int64
	// MediaErrors is an NVMe drive's media and data integrity errors, or a
	// SCSI drive's uncorrected read, write and verify errors.
	MediaErrors *int64
	// PercentageUsed is an NVMe drive's estimate of its used endurance;
	// it may exceed 100.
	PercentageUsed *int64
	// TemperatureCelsius is the current temperature.
	TemperatureCelsius *int64
	// PowerOnHours is the drive's age in powered hours.
	PowerOnHours *int64
	// CheckedAt is when smartctl ran. Parse leaves it zero; whoever ran
	// smartctl sets it.
	CheckedAt time.Time
}

// report is the part of smartctl's JSON output that is read. Numbers are
// json.Number so that no value is rounded or rejected for its size.
type report struct {
	Smartctl *struct {
		ExitStatus *json.Number `json:"exit_status"`
		Messages   []struct {
			String   string `json:"string"`
			Severity string `json:"severity"`
		} `json:"messages"`
	} `json:"smartctl"`
	Device struct {
		Protocol string `json:"protocol"`
	} `json:"device"`
	SmartSupport *struct {
		Available *bool `json:"available"`
		Enabled   *bool `json:"enabled"`
	} `json:"smart_support"`
	SmartStatus *struct {
		Passed *bool `json:"passed"`
		SCSI   *struct {
			IEString string `json:"ie_string"`
		} `json:"scsi"`
	} `json:"smart_status"`
	ATAAttributes *struct {
		Table []struct {
			ID         json.Number `json:"id"`
			Name       string      `json:"name"`
			WhenFailed string      `json:"when_failed"`
			Raw        struct {
				Value  json.Number `json:"value"`
				String string      `json:"string"`
			} `json:"raw"`
		} `json:"table"`
	} `json:"ata_smart_attributes"`
	NVMeLog *struct {
		CriticalWarning *json.Number `json:"critical_warning"`
		MediaErrors     *json.Number `json:"media_errors"`
		PercentageUsed  *json.Number `json:"percentage_used"`
	} `json:"nvme_smart_health_information_log"`
	SCSIGrownDefects *json.Number `json:"scsi_grown_defect_list"`
	SCSIErrorLog     map[string]struct {
		TotalUncorrected *json.Number `json:"total_uncorrected_errors"`
	} `json:"scsi_error_counter_log"`
	Temperature struct {
		Current *json.Number `json:"current"`
	} `json:"temperature"`
	PowerOnTime struct {
		Hours *json.Number `json:"hours"`
	} `json:"power_on_time"`
}

// Parse summarises the JSON smartctl printed for one device. It fails only
// when out is not smartctl's JSON at all (empty, not JSON, or without the
// "smartctl" section every report has); a report smartctl wrote about a
// failure of its own is a Health with status Unknown or NotSupported. A
// field of an unexpected type is ignored, as if absent, so that a later
// smartctl that changes one field does not lose the others.
func Parse(out []byte) (Health, error) {
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return Health{}, fmt.Errorf("smartctl's output is not JSON: %w", err)
		}
	}
	if r.Smartctl == nil {
		return Health{}, fmt.Errorf("smartctl's output has no \"smartctl\" section: it is not a smartctl --json report")
	}
	h := Health{Protocol: bounded(r.Device.Protocol, 16)}
	exit, _ := number(r.Smartctl.ExitStatus)
	var errorMsgs []string
	for _, m := range r.Smartctl.Messages {
		s := strings.TrimSpace(m.String)
		switch {
		case strings.Contains(s, "Unable to detect device type"), strings.Contains(s, "Unknown USB bridge"):
			return notSupported(h, "smartctl cannot address this device as a drive: "+bounded(s, 200)), nil
		case strings.Contains(s, "Device is in") && strings.Contains(s, "mode"):
			// Asked with --nocheck=standby: a drive in a low-power mode
			// is not spun up just to read its health.
			h.Status, h.Message = Unknown, "the drive is in a low-power mode and was not woken to read its health: "+bounded(s, 200)
			return h, nil
		}
		if m.Severity == "error" && s != "" {
			errorMsgs = append(errorMsgs, bounded(s, 200))
		}
	}
	if s := r.SmartSupport; s != nil {
		if s.Available != nil && !*s.Available {
			return notSupported(h, "the drive has no SMART capability"), nil
		}
		if s.Enabled != nil && !*s.Enabled {
			h.Status, h.Message = Unknown, "SMART is disabled on the drive; `smartctl --smart=on <device>` enables it"
			return h, nil
		}
	}

	h.fillCounters(&r)

	var failing []string
	// The NVMe critical warning is read bit by bit: a temperature out of
	// range says something about the node's cooling, not that the drive
	// fails, so it alone does not make the drive Failing (smartctl's own
	// verdict, and exit bit 3, count it).
	nvmeDecides := h.NVMeCriticalWarning != nil
	if nvmeDecides {
		if w := *h.NVMeCriticalWarning; w&^NVMeTemperature != 0 {
			failing = append(failing, "NVMe critical warning "+nvmeWarningText(w))
		}
	} else {
		if r.SmartStatus != nil && r.SmartStatus.Passed != nil && !*r.SmartStatus.Passed {
			what := "the drive's SMART overall-health self-assessment failed"
			if r.SmartStatus.SCSI != nil && r.SmartStatus.SCSI.IEString != "" {
				what += " (" + bounded(r.SmartStatus.SCSI.IEString, 120) + ")"
			}
			failing = append(failing, what)
		} else if exit&ExitDiskFailing != 0 {
			failing = append(failing, "smartctl reports DISK FAILING (exit status bit 3)")
		}
	}
	failedNow := false
	if r.ATAAttributes != nil {
		for _, a := range r.ATAAttributes.Table {
			if a.WhenFailed == "now" {
				failedNow = true
				failing = append(failing, fmt.Sprintf("attribute %s %s is at or below its failure threshold", a.ID.String(), bounded(a.Name, 40)))
			}
		}
	}
	if exit&ExitPrefailAttribute != 0 && !failedNow {
		failing = append(failing, "a pre-failure attribute is at or below its threshold (exit status bit 4)")
	}

	passedKnown := r.SmartStatus != nil && r.SmartStatus.Passed != nil || nvmeDecides
	var notes []string
	if h.NVMeCriticalWarning != nil && *h.NVMeCriticalWarning&NVMeTemperature != 0 {
		notes = append(notes, "temperature above or below the drive's threshold")
	}
	if exit&ExitPastThreshold != 0 {
		notes = append(notes, "some attribute was at or below its threshold in the past")
	}
	if exit&ExitSelfTestErrors != 0 {
		notes = append(notes, "the self-test log records errors")
	}
	if exit&ExitErrorLog != 0 {
		notes = append(notes, "the drive's error log has entries")
	}
	switch {
	case len(failing) > 0:
		h.Status, h.Message = Failing, strings.Join(append(failing, notes...), "; ")
	case passedKnown:
		h.Status = Passed
		h.Message = "the drive's SMART overall-health self-assessment passed"
		if len(notes) > 0 {
			h.Message += "; " + strings.Join(notes, "; ")
		}
	case exit&(ExitCommandLine|ExitOpenFailed|ExitCommandFailed) != 0 || len(errorMsgs) > 0:
		h.Status = Unknown
		h.Message = fmt.Sprintf("smartctl failed (exit status %d)", exit)
		if len(errorMsgs) > 0 {
			h.Message += ": " + strings.Join(errorMsgs, "; ")
		}
	default:
		h.Status, h.Message = Unknown, "smartctl reported no overall health assessment"
	}
	h.Message = bounded(h.Message, MaxMessageBytes)
	return h, nil
}

// fillCounters copies the published counters out of r.
func (h *Health) fillCounters(r *report) {
	if r.ATAAttributes != nil {
		for _, a := range r.ATAAttributes.Table {
			id, ok := number(&a.ID)
			if !ok {
				continue
			}
			var dst **int64
			switch id {
			case attrReallocated:
				dst = &h.ReallocatedSectors
			case attrPending:
				dst = &h.PendingSectors
			case attrOfflineUncorrectable:
				dst = &h.OfflineUncorrectable
			default:
				continue
			}
			if v, ok := rawCount(a.Raw.String, &a.Raw.Value); ok {
				*dst = &v
			}
		}
	}
	if h.ReallocatedSectors == nil {
		h.ReallocatedSectors = count(r.SCSIGrownDefects)
	}
	if l := r.NVMeLog; l != nil {
		h.NVMeCriticalWarning = count(l.CriticalWarning)
		h.MediaErrors = count(l.MediaErrors)
		h.PercentageUsed = count(l.PercentageUsed)
	}
	if h.MediaErrors == nil && len(r.SCSIErrorLog) > 0 {
		var sum int64
		found := false
		for _, k := range []string{"read", "write", "verify"} {
			if v := count(r.SCSIErrorLog[k].TotalUncorrected); v != nil {
				found = true
				sum = addSat(sum, *v)
			}
		}
		if found {
			h.MediaErrors = &sum
		}
	}
	if v, ok := number(r.Temperature.Current); ok {
		h.TemperatureCelsius = &v
	}
	h.PowerOnHours = count(r.PowerOnTime.Hours)
}

// rawCount reads an ATA attribute's raw count. smartctl's raw string is
// formatted with its drive database's knowledge of the vendor's encoding
// ("12", or "12 (Min/Max 0/8)"): its first word, when it is a plain
// decimal number, is the count. Otherwise the raw value is used.
func rawCount(s string, raw *json.Number) (int64, bool) {
	if f := strings.Fields(s); len(f) > 0 {
		if v, err := strconv.ParseInt(f[0], 10, 64); err == nil && v >= 0 {
			return v, true
		}
	}
	if c := count(raw); c != nil {
		return *c, true
	}
	return 0, false
}

// number converts a JSON number to an int64, saturating at the int64 range
// (smartctl prints 128-bit NVMe counters as plain numbers).
func number(n *json.Number) (int64, bool) {
	if n == nil || *n == "" {
		return 0, false
	}
	if v, err := strconv.ParseInt(string(*n), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(string(*n), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	switch {
	case math.IsNaN(f):
		return 0, false
	case f >= math.MaxInt64:
		return math.MaxInt64, true
	case f <= math.MinInt64:
		return math.MinInt64, true
	}
	return int64(f), true
}

func isRangeErr(err error) bool {
	return errors.Is(err, strconv.ErrRange)
}

// count is number for a counter: a negative value is not a count and is
// left out.
func count(n *json.Number) *int64 {
	v, ok := number(n)
	if !ok || v < 0 {
		return nil
	}
	return &v
}

func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func notSupported(h Health, msg string) Health {
	h.Status, h.Message = NotSupported, bounded(msg, MaxMessageBytes)
	return h
}

// nvmeWarningText names the set bits of an NVMe critical warning.
func nvmeWarningText(w int64) string {
	var parts []string
	for _, b := range []struct {
		bit  int64
		text string
	}{
		{NVMeSpareBelowThreshold, "available spare below threshold"},
		{NVMeTemperature, "temperature out of range"},
		{NVMeReliabilityDegraded, "reliability degraded"},
		{NVMeReadOnly, "media placed in read-only mode"},
		{NVMeVolatileBackup, "volatile memory backup failed"},
		{NVMePersistentMemory, "persistent memory region unreliable"},
	} {
		if w&b.bit != 0 {
			parts = append(parts, b.text)
		}
	}
	if other := w &^ 0x3f; other != 0 {
		parts = append(parts, fmt.Sprintf("unknown bits 0x%x", other))
	}
	return fmt.Sprintf("0x%02x: %s", w, strings.Join(parts, ", "))
}

// bounded cuts s to at most n bytes on a rune boundary, marking the cut.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
