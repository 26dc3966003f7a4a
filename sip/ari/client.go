package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultRequestTimeout bounds one REST request when ClientConfig leaves
// RequestTimeout zero.
const DefaultRequestTimeout = 10 * time.Second

// ClientConfig says where Asterisk's ARI is and how to log in.
type ClientConfig struct {
	// URL is ARI's base, e.g. http://asterisk:8088/ari; required.
	URL string
	// User and Password are an ari.conf user's credentials (basic auth).
	User, Password string
	// App is the Stasis application's name; required.
	App string
	// RequestTimeout bounds each REST request; default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// ConnectTimeout bounds the events websocket's handshake; default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// HTTP is the client requests go through; nil means a new one.
	HTTP *http.Client
}

// Client calls ARI's REST resources. It is safe for concurrent use and
// holds no connection state of its own beyond its http.Client.
type Client struct {
	base *url.URL
	cfg  ClientConfig
	http *http.Client

	unknown atomic.Uint64 // events read and dropped
}

// NewClient checks cfg and returns a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.App == "" {
		return nil, errors.New("new ari client: no app name")
	}
	u, err := url.Parse(strings.TrimSuffix(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("new ari client: url %q is not an http(s) url", cfg.URL)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: u, cfg: cfg, http: hc}, nil
}

// App is the Stasis application's name.
func (c *Client) App() string { return c.cfg.App }

// Error is a failed ARI request: the HTTP status and ARI's message.
type Error struct {
	Method, Path string
	Status       int
	Message      string // ARI's {"message": …}, or the body's start
}

func (e *Error) Error() string {
	return fmt.Sprintf("ari %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// IsNotFound reports whether err is an ARI 404: the channel, bridge or
// playback is gone.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// do sends one request; out, if not nil, receives the JSON answer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := c.request(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("ari %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("ari %s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return &Error{Method: method, Path: path, Status: res.StatusCode, Message: errorMessage(data)}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("ari %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) request(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("ari %s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("ari %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(c.cfg.User, c.cfg.Password)
	return req, nil
}

// errorMessage is ARI's {"message": "…"} or the start of the body.
func errorMessage(data []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// seg escapes one path segment (an id).
func seg(id string) string { return url.PathEscape(id) }

// set adds v to q under k when v is not empty.
func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// setInt adds n to q under k when n is not zero.
func setInt(q url.Values, k string, n int) {
	if n != 0 {
		q.Set(k, strconv.Itoa(n))
	}
}
