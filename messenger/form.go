package messenger

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// maxIdempotencyKey bounds the Idempotency-Key header, in bytes.
const maxIdempotencyKey = 200

// formAnswer is the body of 201 (and of 200 for a repeated key).
type formAnswer struct {
	ID          int64   `json:"id"`
	Position    int     `json:"position"`
	WaitSeconds float64 `json:"wait_seconds"`
}

// errBadBody is a body that cannot be read as the content type it claims.
var errBadBody = errors.New("body cannot be parsed")

// serveForm handles POST and OPTIONS /api/v1/forms/{form}: CORS, limits,
// parsing and validation, then the item.
func (m *Messenger) serveForm(w http.ResponseWriter, r *http.Request) {
	form, ok := m.forms[r.PathValue("form")]
	if !ok {
		writeError(w, http.StatusNotFound, "no such form")
		return
	}
	if !m.cors(w, r) {
		writeError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if wait, ok := m.limiter.allow(clientAddr(r, m.cfg.TrustProxy), m.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		writeError(w, http.StatusTooManyRequests, "too many posts from this address; try again later")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey || strings.ContainsFunc(key, unicode.IsControl) {
		writeError(w, http.StatusBadRequest, "idempotency key: at most 200 printable bytes")
		return
	}
	values, status, err := m.readForm(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	m.submitForm(w, r, form, key, values)
}

// submitForm validates the values and turns them into an item.
func (m *Messenger) submitForm(w http.ResponseWriter, r *http.Request, form Form, key string, values map[string]string) {
	if form.Honeypot != "" && values[form.Honeypot] != "" {
		m.log.Debug("form honeypot filled; post dropped", "form", form.Name, "peer", clientAddr(r, m.cfg.TrustProxy))
		writeJSON(w, http.StatusCreated, formAnswer{})
		return
	}
	delete(values, form.Honeypot)
	clean, bad := form.check(values)
	if len(bad) > 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid fields", Fields: bad})
		return
	}
	ext := ""
	if key != "" {
		ext = "form:" + form.Name + ":" + key
		if it, err := m.st.ItemByExternalID(r.Context(), acd.Form, ext); err == nil {
			writeJSON(w, http.StatusOK, m.answer(it))
			return
		}
	}
	it, created, err := m.storeForm(r.Context(), form, ext, clean)
	if err != nil {
		m.log.Error("form post not stored", "form", form.Name, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the letter could not be stored; please send it again")
		return
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	m.log.Info("form received", "form", form.Name, "item_id", it.ID)
	writeJSON(w, status, m.answer(it))
}

// storeForm makes the contact and submits the item.
func (m *Messenger) storeForm(ctx context.Context, form Form, ext string, values map[string]string) (store.Item, bool, error) {
	c, err := m.formContact(ctx, form, values)
	if err != nil {
		return store.Item{}, false, err
	}
	data, err := json.Marshal(map[string]any{"form": form.Name, "fields": values})
	if err != nil {
		return store.Item{}, false, fmt.Errorf("form %s: data: %w", form.Name, err)
	}
	it := store.Item{Channel: acd.Form, ExternalID: ext, Queue: form.Queue, ContactID: c.ID,
		Subject: subjectOf(values[form.Subject]), Data: data}
	return m.work.Submit(ctx, it, store.Event{})
}

// formContact finds the contact by the form's email, or makes one for this
// letter, and writes the fields the form maps to it.
func (m *Messenger) formContact(ctx context.Context, form Form, values map[string]string) (store.Contact, error) {
	id := store.Identity{Kind: "form", Value: randomID()}
	name := ""
	for _, f := range form.Fields {
		v := values[f.Name]
		switch {
		case v == "":
		case f.Kind == KindEmail:
			id = store.Identity{Kind: "email", Value: strings.ToLower(v)}
		case f.Contact == "name":
			name = v
		}
	}
	c, err := m.st.ResolveContact(ctx, id, name)
	if err != nil {
		return store.Contact{}, fmt.Errorf("form %s: contact: %w", form.Name, err)
	}
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	for _, f := range form.Fields {
		if v := values[f.Name]; v != "" && f.Contact == "field" {
			c.Fields[f.Name] = v
		}
	}
	if name != "" {
		c.Name = name
	}
	if err := m.st.UpdateContact(ctx, c); err != nil {
		return store.Contact{}, fmt.Errorf("form %s: contact %d: %w", form.Name, c.ID, err)
	}
	return c, nil
}

// answer is the item's id with its place in line, when it is waiting.
func (m *Messenger) answer(it store.Item) formAnswer {
	a := formAnswer{ID: it.ID}
	if est, err := m.work.Router().Position(it.ID); err == nil {
		a.Position, a.WaitSeconds = est.Position, est.Wait.Seconds()
	}
	return a
}

// subjectOf shortens a text to a one-line subject.
func subjectOf(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= 80 {
		return s
	}
	r := []rune(s)
	return string(r[:79]) + "…"
}

// readForm reads the body as its content type says, into field values.
// The status is what to answer when err is not nil.
func (m *Messenger) readForm(w http.ResponseWriter, r *http.Request) (map[string]string, int, error) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		ct = ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, m.cfg.MaxBody)
	var values map[string]string
	switch ct {
	case "application/json":
		values, err = readJSONForm(r.Body)
	case "application/x-www-form-urlencoded":
		values, err = readURLForm(r.Body)
	case "multipart/form-data":
		values, err = m.readMultipart(r, params["boundary"])
	default:
		return nil, http.StatusUnsupportedMediaType,
			errors.New("content type must be application/json, application/x-www-form-urlencoded or multipart/form-data")
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", m.cfg.MaxBody)
	}
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	return values, 0, nil
}

// readJSONForm reads a JSON object whose values are strings, numbers or
// null.
func readJSONForm(body io.Reader) (map[string]string, error) {
	raw := map[string]json.RawMessage{}
	dec := json.NewDecoder(body)
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: want one JSON object: %w", errBadBody, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", errBadBody)
	}
	values := map[string]string{}
	for k, v := range raw {
		var x any
		d := json.NewDecoder(strings.NewReader(string(v)))
		d.UseNumber()
		if err := d.Decode(&x); err != nil {
			return nil, fmt.Errorf("%w: field %s: %w", errBadBody, k, err)
		}
		switch x := x.(type) {
		case nil:
		case string:
			values[k] = x
		case json.Number:
			values[k] = x.String()
		default:
			return nil, fmt.Errorf("%w: field %s: want a string or a number", errBadBody, k)
		}
	}
	return values, nil
}

func readURLForm(body io.Reader) (map[string]string, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	q, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadBody, err)
	}
	return single(q)
}

func (m *Messenger) readMultipart(r *http.Request, boundary string) (map[string]string, error) {
	if boundary == "" {
		return nil, fmt.Errorf("%w: multipart without a boundary", errBadBody)
	}
	if err := r.ParseMultipartForm(m.cfg.MaxBody); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errBadBody, err)
	}
	defer r.MultipartForm.RemoveAll()
	if len(r.MultipartForm.File) > 0 {
		return nil, errors.New("files are not accepted by this form")
	}
	return single(r.MultipartForm.Value)
}

// single takes one value per field; a field given twice is refused.
func single(q map[string][]string) (map[string]string, error) {
	values := map[string]string{}
	for k, vs := range q {
		if len(vs) > 1 {
			return nil, fmt.Errorf("field %s given %d times", k, len(vs))
		}
		values[k] = vs[0]
	}
	return values, nil
}

// check validates values against the form's fields, returning the cleaned
// values, or what is wrong with each bad field.
func (f Form) check(values map[string]string) (map[string]string, map[string]string) {
	clean, bad := map[string]string{}, map[string]string{}
	known := map[string]bool{}
	for _, fl := range f.Fields {
		known[fl.Name] = true
		v := strings.TrimSpace(values[fl.Name])
		if v == "" {
			if fl.Required {
				bad[fl.Name] = "required"
			}
			continue
		}
		c, err := fl.clean(v)
		if err != nil {
			bad[fl.Name] = err.Error()
			continue
		}
		clean[fl.Name] = c
	}
	for k := range values {
		if !known[k] {
			bad[k] = "unknown field"
		}
	}
	return clean, bad
}

// clean checks one non-empty value and returns it normalised.
func (fl Field) clean(v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", errors.New("not valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > fl.MaxLength {
		return "", fmt.Errorf("at most %d characters", fl.MaxLength)
	}
	switch fl.Kind {
	case KindInt:
		n, err := strconv.Atoi(v)
		if err != nil {
			return "", errors.New("must be a whole number")
		}
		if (fl.Min != 0 || fl.Max != 0) && (n < fl.Min || n > fl.Max) {
			return "", fmt.Errorf("must be between %d and %d", fl.Min, fl.Max)
		}
		return strconv.Itoa(n), nil
	case KindEmail:
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v || !strings.Contains(v, "@") {
			return "", errors.New("must be an email address like name@example.org")
		}
		return strings.ToLower(v), nil
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) {
		return "", errors.New("contains control characters")
	}
	return v, nil
}

// cors answers the CORS headers of a request from another site: allowed
// origins get them, others are refused (false). Requests without an Origin
// (curl, scripts) and same-origin ones pass.
func (m *Messenger) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	w.Header().Add("Vary", "Origin")
	if origin == "" || sameOrigin(r, origin) {
		return true
	}
	if !m.origins[origin] {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key")
		h.Set("Access-Control-Max-Age", "600")
	}
	return true
}

func sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// randomID is 128 random bits in hex.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}
