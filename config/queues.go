package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/morozhq/moroz/acd"
)

// Queue configures one queue of the router. Queues are set in the file
// only (not from the environment).
type Queue struct {
	// Name is how items and helpers refer to the queue.
	Name string `yaml:"name"`
	// Strategy picks the helper: longest-idle (default), round-robin,
	// least-busy, ring-all, by-skill or random.
	Strategy string `yaml:"strategy"`
	// SLA is the target answer time from arrival; 0 means none.
	SLA time.Duration `yaml:"sla"`
	// MaxWait is the longest an item waits before its channel's fallback
	// (voicemail for calls); 0 means no limit.
	MaxWait time.Duration `yaml:"max_wait"`
	// MaxLength is how many items may wait at once; 0 means no limit.
	MaxLength int `yaml:"max_length"`
	// NoHelpers is what happens to a new item when no helper of the queue
	// is logged in: wait (default) or reject.
	NoHelpers string `yaml:"no_helpers"`
	// OfferTimeout is how long an offer rings; 0 means the channel's
	// default (20s for calls, 60s for the rest).
	OfferTimeout time.Duration `yaml:"offer_timeout"`
	// WrapUp is the after-work time before the helper's next offer.
	WrapUp time.Duration `yaml:"wrap_up"`
	// NoReply is how long an accepted letter or chat may go without a reply
	// before it is taken back and offered again; 0 means never.
	NoReply time.Duration `yaml:"no_reply"`
	// Hours are the business hours; none means always open.
	Hours *Hours `yaml:"hours"`
}

// Hours are a queue's business hours.
type Hours struct {
	// TimeZone is an IANA zone name such as Europe/Moscow; default UTC.
	TimeZone string `yaml:"time_zone"`
	// Week maps mon..sun to open periods "HH:MM-HH:MM"; a day not listed
	// is closed.
	Week map[string][]string `yaml:"week"`
	// Holidays are dates (YYYY-MM-DD) when the queue is closed.
	Holidays []string `yaml:"holidays"`
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Router returns the router's form of q, or an error saying which field is
// wrong.
func (q Queue) Router() (acd.QueueConfig, error) {
	out := acd.QueueConfig{
		Name: q.Name, Strategy: acd.Strategy(q.Strategy), SLA: q.SLA, MaxWait: q.MaxWait,
		MaxLength: q.MaxLength, NoHelpers: acd.NoHelpersPolicy(q.NoHelpers),
	}
	if q.Name == "" {
		return out, fmt.Errorf("name: must not be empty")
	}
	if !out.Strategy.Valid() {
		return out, fmt.Errorf("strategy: %q is not longest-idle, round-robin, least-busy, ring-all, by-skill or random", q.Strategy)
	}
	if q.NoHelpers != "" && q.NoHelpers != "wait" && q.NoHelpers != "reject" {
		return out, fmt.Errorf("no_helpers: %q is not wait or reject", q.NoHelpers)
	}
	if q.SLA < 0 || q.MaxWait < 0 || q.OfferTimeout < 0 || q.WrapUp < 0 || q.NoReply < 0 || q.MaxLength < 0 {
		return out, fmt.Errorf("durations and lengths must not be negative")
	}
	perChannel := func(d time.Duration) map[acd.Channel]time.Duration {
		if d == 0 {
			return nil
		}
		m := map[acd.Channel]time.Duration{}
		for _, ch := range acd.Channels {
			m[ch] = d
		}
		return m
	}
	out.OfferTimeout, out.WrapUp, out.NoReply = perChannel(q.OfferTimeout), perChannel(q.WrapUp), perChannel(q.NoReply)
	if out.NoReply != nil {
		delete(out.NoReply, acd.Voice) // a call is never taken back for want of a reply
	}
	if q.Hours != nil {
		h, err := q.Hours.router()
		if err != nil {
			return out, fmt.Errorf("hours: %w", err)
		}
		out.Hours = h
	}
	return out, nil
}

func (h Hours) router() (*acd.Hours, error) {
	out := &acd.Hours{Week: map[time.Weekday][]acd.Period{}}
	if h.TimeZone != "" {
		loc, err := time.LoadLocation(h.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("time_zone %q: unknown zone", h.TimeZone)
		}
		out.Location = loc
	}
	for day, periods := range h.Week {
		wd, ok := weekdays[strings.ToLower(day)]
		if !ok {
			return nil, fmt.Errorf("week: %q is not mon, tue, wed, thu, fri, sat or sun", day)
		}
		for _, p := range periods {
			period, err := parsePeriod(p)
			if err != nil {
				return nil, fmt.Errorf("week.%s: %w", day, err)
			}
			out.Week[wd] = append(out.Week[wd], period)
		}
	}
	for _, d := range h.Holidays {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return nil, fmt.Errorf("holidays: %q is not YYYY-MM-DD", d)
		}
		out.Holidays = append(out.Holidays, acd.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()})
	}
	return out, nil
}

// parsePeriod parses "09:00-18:00"; "24:00" may end a period.
func parsePeriod(s string) (acd.Period, error) {
	from, to, ok := strings.Cut(s, "-")
	a, errA := clock(from)
	b, errB := clock(to)
	if !ok || errA != nil || errB != nil || a >= b {
		return acd.Period{}, fmt.Errorf("%q is not HH:MM-HH:MM with the start first", s)
	}
	return acd.Period{From: a, To: b}, nil
}

func clock(s string) (time.Duration, error) {
	var h, m int
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d:%d", &h, &m); err != nil || h < 0 || m < 0 || m > 59 || h*60+m > 24*60 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// RouterQueues returns the configured queues in the router's form; nil
// when none are configured (the router's defaults then apply).
func (c *Config) RouterQueues() ([]acd.QueueConfig, error) {
	var out []acd.QueueConfig
	seen := map[string]bool{}
	for i, q := range c.Queues {
		rq, err := q.Router()
		if err != nil {
			return nil, &KeyError{Key: fmt.Sprintf("queues[%d]", i), Reason: err.Error()}
		}
		if seen[q.Name] {
			return nil, &KeyError{Key: fmt.Sprintf("queues[%d].name", i), Reason: fmt.Sprintf("%q appears twice", q.Name)}
		}
		seen[q.Name] = true
		out = append(out, rq)
	}
	return out, nil
}
