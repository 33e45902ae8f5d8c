package keyring_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
)

// TestEpochTimeJSON encodes times around and before the epoch, checks the
// exact text (always valid JSON) and that it decodes to the same
// millisecond.
func TestEpochTimeJSON(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.UnixMilli(1700000000500), "1700000000.5"},
		{time.UnixMilli(1700000000005), "1700000000.005"},
		{time.UnixMilli(1000), "1"},
		{time.UnixMilli(1), "0.001"},
		{time.Unix(0, 0), "0"},
		{time.UnixMilli(-1), "-0.001"},
		{time.UnixMilli(-5), "-0.005"},
		{time.UnixMilli(-1005), "-1.005"},
		{time.UnixMilli(-1500), "-1.5"},
		{time.UnixMilli(-1000), "-1"},
		{time.Date(1969, 7, 20, 20, 17, 40, 123e6, time.UTC), "-14182939.877"},
		{time.UnixMilli(1700000000123).Add(456789 * time.Nanosecond), "1700000000.123"}, // sub-ms dropped
		{time.Unix(-1e15, 0), "-1000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			b, err := json.Marshal(keyring.EpochTime{Time: tt.t})
			if err != nil || string(b) != tt.want || !json.Valid(b) {
				t.Fatalf("Marshal = %s, %v; want %s", b, err, tt.want)
			}
			var back keyring.EpochTime
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.UnixMilli() != tt.t.UnixMilli() {
				t.Fatalf("decoded %d ms, want %d ms", back.UnixMilli(), tt.t.UnixMilli())
			}
		})
	}
}

// TestEpochTimeOutOfRange refuses to encode a time whose milliseconds
// would not fit an int64, instead of encoding garbage.
func TestEpochTimeOutOfRange(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(2e15, 0), time.Unix(-2e15, 0)} {
		if b, err := json.Marshal(keyring.EpochTime{Time: tm}); err == nil {
			t.Errorf("Marshal(%v) = %s, want an error", tm, b)
		}
	}
}

// TestEpochTimeDecode decodes the forms SDKs send: integers, decimals
// exact to the nanosecond, exponent notation, and null.
func TestEpochTimeDecode(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time // zero for null
		ok   bool
	}{
		{"1700000000", time.Unix(1700000000, 0), true},
		{"1700000000.123456789", time.Unix(1700000000, 123456789), true},
		{"1700000000.1234567891", time.Unix(1700000000, 123456789), true},
		{"-0.5", time.Unix(0, -5e8), true},
		{"1.7E9", time.Unix(1700000000, 0), true},
		{"1.700000000005e9", time.UnixMilli(1700000000005), true},
		{"null", time.Time{}, true},
		{"1e300", time.Time{}, false},
		{"99999999999999999999", time.Time{}, false},
		{"9223372036854775807", time.Time{}, false},
		{"-1000000000000001", time.Time{}, false},
		{"1000000000000000.5", time.Unix(1e15, 5e8), true},
		{`"1700000000"`, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got keyring.EpochTime
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err == nil) != tt.ok {
				t.Fatalf("Unmarshal(%s): %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && !got.Equal(tt.want) {
				t.Fatalf("Unmarshal(%s) = %v, want %v", tt.in, got.Time, tt.want)
			}
		})
	}
}

// FuzzEpochTime decodes arbitrary JSON as an epoch time: it never panics,
// and what decodes re-encodes as valid JSON that decodes to the same
// millisecond.
func FuzzEpochTime(f *testing.F) {
	for _, s := range []string{"0", "-0.005", "1700000000.5", "-1.005", "1.7E9", "1e300", "null",
		"99999999999999999999", "9223372036854775807", `"x"`, "1.123456789123"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var et keyring.EpochTime
		if err := json.Unmarshal(b, &et); err != nil || et.IsZero() {
			return
		}
		enc, err := json.Marshal(et)
		if err != nil || !json.Valid(enc) {
			t.Fatalf("%s decoded to %v, which encodes as %q (%v)", b, et.Time, enc, err)
		}
		var back keyring.EpochTime
		if err := json.Unmarshal(enc, &back); err != nil || back.UnixMilli() != et.UnixMilli() {
			t.Fatalf("%s: re-decoded %v (%v), want %v", enc, back.Time, err, et.Time)
		}
	})
}
