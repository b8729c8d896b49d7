package pebble

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
)

// sighting is what one batch says about one service.
type sighting struct {
	first, last      time.Time
	environment      string
	owner            string
	overrideMetadata bool
}

// sightings collects the services a batch names.
type sightings struct{ m map[string]*sighting }

func newSightings() *sightings { return &sightings{m: map[string]*sighting{}} }

func (s *sightings) get(name string) *sighting {
	v, ok := s.m[name]
	if !ok {
		v = &sighting{}
		s.m[name] = v
	}
	return v
}

func (s *sightings) see(name string, first, last time.Time) {
	v := s.get(name)
	if v.first.IsZero() || first.Before(v.first) {
		v.first = first
	}
	if last.After(v.last) {
		v.last = last
	}
}

// describe records metadata. Values from a service entry (override) win
// over an event's environment, which only fills a gap.
func (s *sightings) describe(name, environment, owner string, override bool) {
	v := s.get(name)
	if environment != "" && (override || !v.overrideMetadata && v.environment == "") {
		v.environment = environment
	}
	if owner != "" && (override || v.owner == "") {
		v.owner = owner
	}
	if override {
		v.overrideMetadata = true
	}
}

// applyServices merges the sightings into the stored services and
// returns the records it wrote. Called with s.mu held.
func (s *Store) applyServices(batch *writes, seen *sightings) ([]graph.Service, error) {
	var changed []graph.Service
	for name, v := range seen.m {
		old, found := s.services[name]
		if !found {
			raw, ok, err := get(s.db, serviceKey(name))
			if err != nil {
				return nil, fmt.Errorf("read service %s: %w", name, err)
			}
			if ok {
				if old, err = decodeService(name, raw); err != nil {
					return nil, fmt.Errorf("decode service %s: %w", name, err)
				}
				s.services[name] = old
				found = true
			}
		}
		cur := graph.Service{Name: name, FirstSeen: v.first, LastSeen: v.last, Environment: v.environment, Owner: v.owner}
		if found {
			cur = old
			if v.first.Before(cur.FirstSeen) {
				cur.FirstSeen = v.first
			}
			if v.last.After(cur.LastSeen) {
				cur.LastSeen = v.last
			}
			if v.environment != "" && (v.overrideMetadata || cur.Environment == "") {
				cur.Environment = v.environment
			}
			if v.owner != "" {
				cur.Owner = v.owner
			}
			if cur == old {
				continue
			}
		}
		batch.set(serviceKey(name), encodeService(&cur))
		changed = append(changed, cur)
	}
	return changed, nil
}

// Service returns one service by name.
func (s *Store) Service(ctx context.Context, name string) (_ graph.Service, err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("service"); err != nil {
		return
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return graph.Service{}, err
	}
	raw, found, err := get(s.db, serviceKey(name))
	if err != nil {
		return graph.Service{}, fmt.Errorf("read service %s: %w", name, err)
	}
	if !found {
		return graph.Service{}, graph.NotFoundf("no service named %q", name)
	}
	sv, err := decodeService(name, raw)
	if err != nil {
		return graph.Service{}, fmt.Errorf("decode service %s: %w", name, err)
	}
	return sv, nil
}

// eachService calls fn for the services after the name cursor that match
// f, in name order, until fn returns false.
func (s *Store) eachService(ctx context.Context, f *graph.ServiceFilter, after string, fn func(graph.Service) bool) (err error) {
	lower := []byte{tableService}
	if after != "" {
		lower = append(serviceKey(after), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{tableService + 1}})
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	defer closeIter(it, "list services", &err)
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		name := string(it.Key()[1:])
		if !f.Matches(name) {
			continue
		}
		sv, err := decodeService(name, it.Value())
		if err != nil {
			return fmt.Errorf("decode service %s: %w", name, err)
		}
		if !fn(sv) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	return nil
}

// Services lists services in name order.
func (s *Store) Services(ctx context.Context, f graph.ServiceFilter) (_ graph.Page[graph.Service], err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("services"); err != nil {
		return
	}
	defer s.leave()
	var page graph.Page[graph.Service]
	if err := f.Validate(); err != nil {
		return page, err
	}
	var after string
	if f.After != "" {
		after, _ = graph.DecodeNameCursor(f.After)
	}
	err = s.eachService(ctx, &f, after, func(sv graph.Service) bool {
		if len(page.Items) == f.First {
			page.HasNext = true
			return false
		}
		page.Items = append(page.Items, sv)
		return true
	})
	if err != nil {
		return graph.Page[graph.Service]{}, err
	}
	return page, nil
}

// CountServices counts what Services would list, ignoring First and After.
func (s *Store) CountServices(ctx context.Context, f graph.ServiceFilter) (_ int, err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("count services"); err != nil {
		return
	}
	defer s.leave()
	f.First, f.After = 1, ""
	if err := f.Validate(); err != nil {
		return 0, err
	}
	n := 0
	err = s.eachService(ctx, &f, "", func(graph.Service) bool { n++; return true })
	return n, err
}
