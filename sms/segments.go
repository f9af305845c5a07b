package sms

import "strings"

// GSM 03.38: the default alphabet of SMS, 7 bits a character, and its
// extension table, whose characters take two (an escape, then the
// character). A text with any other character goes as UCS-2 (UTF-16, 16
// bits a unit; a character outside the BMP takes two units).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "^{}\\[~]|€\f"
)

// Coding is how an SMS carries its text.
type Coding int

const (
	// GSM7 is the 7-bit default alphabet: 160 characters in one SMS,
	// 153 per part of a long one.
	GSM7 Coding = iota
	// UCS2 is UTF-16: 70 units in one SMS, 67 per part.
	UCS2
)

// Segments says how text travels: its coding and how many SMS it takes
// (a concatenated SMS: each part gives up room to the header that joins
// them). An empty text is one SMS.
func Segments(text string) (Coding, int) {
	septets, gsm := 0, true
	units := 0
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			septets++
		case strings.ContainsRune(gsmExtension, r):
			septets += 2
		default:
			gsm = false
		}
		if r > 0xFFFF {
			units += 2
		} else {
			units++
		}
	}
	if gsm {
		return GSM7, parts(septets, 160, 153)
	}
	return UCS2, parts(units, 70, 67)
}

func parts(n, single, multi int) int {
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}
