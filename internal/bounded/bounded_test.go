package bounded_test

import (
	"fmt"
	"testing"

	"github.com/switchboard-im/switchboard/internal/bounded"
)

type op struct {
	del bool
	k   string
	v   int
}

func TestMap(t *testing.T) {
	tests := []struct {
		name string
		max  int
		ops  []op
		want map[string]int // every key the map must have, with its value
		gone []string       // keys it must have forgotten
	}{
		{
			name: "within the bound",
			max:  3,
			ops:  []op{{k: "a", v: 1}, {k: "b", v: 2}},
			want: map[string]int{"a": 1, "b": 2},
		},
		{
			name: "oldest out",
			max:  2,
			ops:  []op{{k: "a", v: 1}, {k: "b", v: 2}, {k: "c", v: 3}},
			want: map[string]int{"b": 2, "c": 3},
			gone: []string{"a"},
		},
		{
			name: "set again keeps its age",
			max:  2,
			ops:  []op{{k: "a", v: 1}, {k: "b", v: 2}, {k: "a", v: 9}, {k: "c", v: 3}},
			want: map[string]int{"b": 2, "c": 3},
			gone: []string{"a"},
		},
		{
			name: "deleted key frees its place",
			max:  2,
			ops:  []op{{k: "a", v: 1}, {k: "b", v: 2}, {del: true, k: "a"}, {k: "c", v: 3}},
			want: map[string]int{"b": 2, "c": 3},
			gone: []string{"a"},
		},
		{
			name: "deleted and put again is new",
			max:  2,
			ops:  []op{{k: "a", v: 1}, {k: "b", v: 2}, {del: true, k: "a"}, {k: "a", v: 4}, {k: "c", v: 3}},
			want: map[string]int{"a": 4, "c": 3},
			gone: []string{"b"},
		},
		{
			name: "bound of one",
			max:  1,
			ops:  []op{{k: "a", v: 1}, {k: "b", v: 2}},
			want: map[string]int{"b": 2},
			gone: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := bounded.New[string, int](tt.max)
			for _, o := range tt.ops {
				if o.del {
					m.Delete(o.k)
				} else {
					m.Put(o.k, o.v)
				}
			}
			for k, v := range tt.want {
				if got, ok := m.Get(k); !ok || got != v {
					t.Errorf("Get(%q) = %d, %t; want %d, true", k, got, ok, v)
				}
			}
			for _, k := range tt.gone {
				if _, ok := m.Get(k); ok {
					t.Errorf("Get(%q) found a key that should be forgotten", k)
				}
			}
			if m.Len() != len(tt.want) {
				t.Errorf("Len() = %d; want %d", m.Len(), len(tt.want))
			}
		})
	}
}

// TestMapLong puts and deletes many keys and checks the map against a
// plain model of it: the newest max keys not deleted.
func TestMapLong(t *testing.T) {
	const max = 50
	m := bounded.New[string, int](max)
	var order []string // model: live keys, oldest first
	model := map[string]int{}
	for i := range 10000 {
		k := fmt.Sprint(i % 173)
		switch {
		case i%7 == 0:
			m.Delete(k)
			if _, ok := model[k]; ok {
				delete(model, k)
				for j, x := range order {
					if x == k {
						order = append(order[:j], order[j+1:]...)
						break
					}
				}
			}
		default:
			m.Put(k, i)
			if _, ok := model[k]; !ok {
				order = append(order, k)
			}
			model[k] = i
			for len(order) > max {
				delete(model, order[0])
				order = order[1:]
			}
		}
		if m.Len() != len(model) {
			t.Fatalf("step %d: Len() = %d; want %d", i, m.Len(), len(model))
		}
	}
	for k, v := range model {
		if got, ok := m.Get(k); !ok || got != v {
			t.Errorf("Get(%q) = %d, %t; want %d, true", k, got, ok, v)
		}
	}
}

func TestNewRefusesNoBound(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(0) did not panic")
		}
	}()
	bounded.New[string, int](0)
}
