package sms

import (
	"strings"
	"testing"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		coding Coding
		n      int
	}{
		{"empty", "", GSM7, 1},
		{"short", "hello", GSM7, 1},
		{"160 GSM characters", strings.Repeat("a", 160), GSM7, 1},
		{"161 GSM characters", strings.Repeat("a", 161), GSM7, 2},
		{"306 GSM characters", strings.Repeat("a", 306), GSM7, 2},
		{"307 GSM characters", strings.Repeat("a", 307), GSM7, 3},
		{"extension characters count twice", strings.Repeat("€", 80), GSM7, 1},
		{"81 euro signs", strings.Repeat("€", 81), GSM7, 2},
		{"GSM accents", "Ça déjà été", GSM7, 1},
		{"one non-GSM character", "naïve", UCS2, 1}, // ï is not in GSM 03.38
		{"70 UCS-2 units", strings.Repeat("é", 69) + "ж", UCS2, 1},
		{"71 UCS-2 units", strings.Repeat("ж", 71), UCS2, 2},
		{"134 UCS-2 units", strings.Repeat("ж", 134), UCS2, 2},
		{"135 UCS-2 units", strings.Repeat("ж", 135), UCS2, 3},
		{"emoji take two units", strings.Repeat("😀", 35), UCS2, 1},
		{"36 emoji", strings.Repeat("😀", 36), UCS2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, n := Segments(tt.text)
			if c != tt.coding || n != tt.n {
				t.Errorf("Segments = %v, %d; want %v, %d", c, n, tt.coding, tt.n)
			}
		})
	}
}
