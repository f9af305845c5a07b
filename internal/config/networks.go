package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Network is a network this build has, as the configuration file sees
// it: the name of its table and where that table is decoded to. The
// network package owns its keys; config knows only the common ones.
type Network struct {
	// Name is the table's name ("irc").
	Name string
	// NewConfig returns a pointer to a new value of the network's own
	// config struct, whose toml tags name the table's keys besides
	// the common ones (commonKeys, which it must not use). Defaults it
	// holds survive keys the file leaves out. If it implements Checker,
	// its keys are checked too.
	NewConfig func() any
}

// Checker is implemented by a network's config struct to check its own
// keys once the file is decoded.
type Checker interface {
	// Check calls problem once for each problem, with the key relative
	// to the network's table ("servers.irc.example.net.address") and a
	// message that does not repeat the key. It must not block or do I/O
	// and sees no other table; Parse adds the file and line.
	Check(problem func(key, msg string))
}

// Common is what every network's table has.
type Common struct {
	// Domain is the component's JID, e.g. "irc.example.org".
	Domain string `toml:"domain"`
	// Secret is the component secret shared with the XMPP server.
	Secret string `toml:"secret"`
	// Server overrides [xmpp] server for this component.
	Server string `toml:"server"`
	// MessageRate and MessageBurst bound the messages each user sends
	// towards the network (per second, and the burst before that pace
	// applies): the component's per-user limiter, in front of the
	// network's own pacing (IRC's send_rate and send_burst, in lines).
	// Excess messages wait their turn. 0 takes the component's defaults
	// (component.Config.SendRate and SendBurst).
	MessageRate  float64 `toml:"message_rate"`
	MessageBurst int     `toml:"message_burst"`
}

// commonKeys are Common's keys, which a network's own struct lacks.
var commonKeys = []string{"domain", "secret", "server", "message_rate", "message_burst"}

// NetworkEntry is an enabled network: its table name, the common keys,
// and the rest of its table decoded into the network's own config.
type NetworkEntry struct {
	Name string
	Common
	// Config is the pointer Network.NewConfig returned, decoded.
	Config any
}

// Networks returns the enabled networks, in the order Parse was given
// them.
func (c *Config) Networks() []NetworkEntry { return c.networks }

// decode decodes data into c: the shared tables into c itself, and each
// network's table into the common keys plus its own config. A key that no
// target has is a problem at its line. err is a syntax or type error,
// which ends decoding.
func (c *Config) decode(name string, data []byte, nets []Network) (probs []Problem, err error) {
	isNet := func(table string) bool {
		return slices.ContainsFunc(nets, func(n Network) bool { return n.Name == table })
	}
	unknown := func(err error, keep func(key []string) bool) error {
		var sme *toml.StrictMissingError
		if !errors.As(err, &sme) {
			return decodeError(name, err)
		}
		for _, de := range sme.Errors {
			if !keep(de.Key()) {
				continue
			}
			row, _ := de.Position()
			msg := fmt.Sprintf("unknown key %q", strings.Join(de.Key(), "."))
			if len(de.Key()) == 1 {
				names := make([]string, len(nets))
				for i, n := range nets {
					names[i] = n.Name
				}
				msg += " (this build's networks: " + strings.Join(names, ", ") + ")"
			}
			probs = append(probs, Problem{File: name, Line: row, Msg: msg})
		}
		return nil
	}

	if err := strictDecode(data, c); err != nil {
		if err := unknown(err, func(key []string) bool { return !isNet(key[0]) }); err != nil {
			return nil, err
		}
	}
	var present map[string]any
	if err := toml.Unmarshal(data, &present); err != nil {
		return nil, decodeError(name, err)
	}
	for _, n := range nets {
		if _, ok := present[n.Name]; !ok {
			continue
		}
		e := NetworkEntry{Name: n.Name, Config: n.NewConfig()}
		if t := reflect.TypeOf(e.Config); t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			return nil, fmt.Errorf("network %s: NewConfig returned a %T, not a pointer to a struct", n.Name, e.Config)
		}
		if err := toml.Unmarshal(data, tableOf(n.Name, &e.Common)); err != nil {
			return nil, decodeError(name, err)
		}
		if err := strictDecode(data, tableOf(n.Name, e.Config)); err != nil {
			err := unknown(err, func(key []string) bool {
				return key[0] == n.Name && !(len(key) == 2 && slices.Contains(commonKeys, key[1]))
			})
			if err != nil {
				return nil, err
			}
		}
		c.networks = append(c.networks, e)
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs, nil
}

func strictDecode(data []byte, v any) error {
	d := toml.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// tableOf returns a pointer to a struct whose one field, tagged table, is
// ptr: decoding a whole file into it decodes that table into *ptr.
func tableOf(table string, ptr any) any {
	t := reflect.StructOf([]reflect.StructField{{
		Name: "Table",
		Type: reflect.TypeOf(ptr),
		Tag:  reflect.StructTag(fmt.Sprintf("toml:%q", table)),
	}})
	v := reflect.New(t)
	v.Elem().Field(0).Set(reflect.ValueOf(ptr))
	return v.Interface()
}
