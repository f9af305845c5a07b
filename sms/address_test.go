package sms

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, region string
		want       string // the E.164 ID, or "" for an error
		why        string // part of the error's text
	}{
		{"+15551234567", "", "+15551234567", ""},
		{" +1 (555) 123-4567 ", "US", "+15551234567", ""},
		{"(555) 123-4567", "US", "+15551234567", ""},
		{"555.123.4567", "US", "+15551234567", ""},
		{"1-555-123-4567", "US", "+15551234567", ""},
		{"011 44 20 7946 0000", "US", "+442079460000", ""},
		{"00 44 20 7946 0000", "US", "+442079460000", ""},
		{"00 44 20 7946 0000", "DE", "+442079460000", ""},
		{"020 7946 0000", "GB", "+442079460000", ""},
		{"07700 900123", "GB", "+447700900123", ""},
		{"030 1234567", "DE", "+49301234567", ""},
		{"+33 6 12 34 56 78", "US", "+33612345678", ""},
		{"12345", "US", "12345", ""}, // a short code
		{"(555) 123-4567", "", "", "country code"},
		{"", "US", "", "empty"},
		{"   ", "US", "", "empty"},
		{"+1 555", "US", "", "too short"},
		{"+1 555 123 4567 8901 234", "US", "", "too long"},
		{"+999 1234567", "US", "", "country code"},
		{"hello", "US", "", "not a phone number"},
		{"+1 555 123 4567 ext. 12", "US", "", "extension"},
		{"+1555\xff1234567", "US", "", "not a phone number"},
		{strings.Repeat("1", 200), "US", "", "not a phone number"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in, tt.region)
		if tt.want != "" {
			if err != nil || got != transports.ID(tt.want) {
				t.Errorf("Normalize(%q, %q) = %q, %v; want %q", tt.in, tt.region, got, err, tt.want)
			}
			continue
		}
		if err == nil || !errors.Is(err, transports.ErrInvalidInput) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Normalize(%q, %q) = %q, %v; want ErrInvalidInput saying %q", tt.in, tt.region, got, err, tt.why)
		}
	}
}

func TestIsAddress(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"+15551234567", true},
		{"+442079460000", true},
		{"12345", true},
		{"+0123", false},
		{"+1234567890123456", false}, // 16 digits
		{"15551234567", false},
		{"+1555 1234567", false},
		{"alice", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsAddress(tt.id); got != tt.want {
			t.Errorf("IsAddress(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

// FuzzNormalize: whatever a user types, Normalize returns an address
// this network takes or an ErrInvalidInput, and its result is stable.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+15551234567", "(555) 123-4567", "00 44 20 7946 0000", "12345", "+1 555 ext 1", "\xff", "++1", "0"} {
		f.Add(s, "US")
	}
	f.Add("020 7946 0000", "GB")
	f.Add("+49301234567", "")
	f.Fuzz(func(t *testing.T, in, region string) {
		if len(region) > 3 {
			region = region[:3]
		}
		id, err := Normalize(in, region)
		if err != nil {
			if !errors.Is(err, transports.ErrInvalidInput) {
				t.Fatalf("Normalize(%q, %q): %v does not wrap ErrInvalidInput", in, region, err)
			}
			return
		}
		if !IsAddress(string(id)) {
			t.Fatalf("Normalize(%q, %q) = %q, not an address", in, region, id)
		}
		if again, err := Normalize(string(id), region); err != nil || again != id {
			t.Fatalf("Normalize(%q) = %q, %v; want it unchanged", id, again, err)
		}
	})
}
