package sms

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/switchboard-im/switchboard/transports"
)

// maxAddressInput bounds what Normalize parses: no phone number, however
// it is written, is longer.
const maxAddressInput = 64

// e164 is the form of every contact ID of this network: "+", a country
// code and the subscriber number, 15 digits at most (ITU-T E.164).
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// shortCode is a provider's short code ("12345"): the senders of
// automated texts, which have no country code.
var shortCode = regexp.MustCompile(`^[0-9]{3,8}$`)

// IsAddress reports whether id is a contact this network can text or
// hear from: an E.164 number or a short code. It does no I/O.
func IsAddress(id string) bool {
	return e164.MatchString(id) || shortCode.MatchString(id)
}

// Normalize turns a phone number as a user typed it ("(555) 123-4567",
// "00 44 20 7946 0000", "+1 555 123 4567") into E.164 ("+15551234567"),
// reading a number without its country code as one of region (an ISO
// 3166 code such as "US"; "" accepts international numbers only). The
// number must have a possible length for its country; whether it is in
// service is the provider's to say. An error wraps
// transports.ErrInvalidInput and says why in words a user understands.
func Normalize(input, region string) (transports.ID, error) {
	s := strings.TrimSpace(input)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: the number is empty", transports.ErrInvalidInput)
	case len(s) > maxAddressInput || !utf8.ValidString(s):
		return "", fmt.Errorf("%w: that is not a phone number", transports.ErrInvalidInput)
	case shortCode.MatchString(s) && len(s) <= 6:
		return transports.ID(s), nil
	}
	num, err := parse(s, region)
	if err != nil && strings.HasPrefix(strings.TrimLeft(s, " ("), "00") {
		// 00 is the international prefix of most of the world; read it
		// so even where the default country dials out otherwise (011).
		num, err = parse("+"+strings.TrimPrefix(strings.TrimLeft(s, " ("), "00"), region)
	}
	if err != nil {
		return "", err
	}
	out := phonenumbers.Format(num, phonenumbers.E164)
	if !e164.MatchString(out) {
		return "", fmt.Errorf("%w: %q is not an international phone number", transports.ErrInvalidInput, out)
	}
	// A number the library reads differently once written in E.164
	// (a trunk prefix after the country code) has no one form.
	if again, err := phonenumbers.Parse(out, ""); err != nil || phonenumbers.Format(again, phonenumbers.E164) != out {
		return "", fmt.Errorf("%w: the number has a trunk prefix after its country code", transports.ErrInvalidInput)
	}
	return transports.ID(out), nil
}

// parse reads s as a phone number of region and checks its length.
func parse(s, region string) (*phonenumbers.PhoneNumber, error) {
	if region == "" && !strings.HasPrefix(s, "+") {
		return nil, fmt.Errorf("%w: give the number with its country code, such as +15551234567", transports.ErrInvalidInput)
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", transports.ErrInvalidInput, parseReason(err, region))
	}
	if num.GetExtension() != "" {
		return nil, fmt.Errorf("%w: an extension cannot receive texts", transports.ErrInvalidInput)
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE:
		return num, nil
	case phonenumbers.INVALID_COUNTRY_CODE:
		return nil, fmt.Errorf("%w: no country has the code +%d", transports.ErrInvalidInput, num.GetCountryCode())
	case phonenumbers.TOO_SHORT:
		return nil, fmt.Errorf("%w: the number is too short for country code +%d", transports.ErrInvalidInput, num.GetCountryCode())
	case phonenumbers.TOO_LONG:
		return nil, fmt.Errorf("%w: the number is too long for country code +%d", transports.ErrInvalidInput, num.GetCountryCode())
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return nil, fmt.Errorf("%w: the number lacks its area code", transports.ErrInvalidInput)
	default:
		return nil, fmt.Errorf("%w: no number of country code +%d has that length", transports.ErrInvalidInput, num.GetCountryCode())
	}
}

// parseReason says in words why phonenumbers refused a number.
func parseReason(err error, region string) string {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		if region == "" {
			return "the number has no valid country code"
		}
		return "the number has no valid country code, and it is not a number of " + region
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return "the number is too short"
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return "the number is too long"
	default:
		return "that is not a phone number"
	}
}

// ValidRegion reports whether region is a country code the number
// library knows ("US", "GB").
func ValidRegion(region string) bool {
	return phonenumbers.GetSupportedRegions()[region]
}
