package mail

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/morozhq/moroz/store"
)

// UnsubscribedField is the contact field that marks a contact who asked
// for no more mailings; its value is when they asked (RFC 3339).
const UnsubscribedField = "unsubscribed"

// Unsubscribed reports whether c asked for no more mailings.
func Unsubscribed(c store.Contact) bool { return c.Fields[UnsubscribedField] != "" }

// ErrBadToken means an unsubscribe token was not made by this key.
var ErrBadToken = errors.New("unsubscribe token not valid")

// Unsubscribes makes and honours the signed unsubscribe links of
// mailings: /unsubscribe/{token}, where the token names the mailing and
// the contact and carries an HMAC-SHA256 of both under a key only Moroz
// holds. It is safe for concurrent use.
type Unsubscribes struct {
	Key     []byte // at least 16 bytes
	BaseURL string // where Moroz's HTTP listener is reached, without a final slash
	Store   interface {
		Contact(ctx context.Context, id int64) (store.Contact, error)
		UpdateContact(ctx context.Context, c store.Contact) error
	}
	Logger *slog.Logger
	Now    func() time.Time
}

// Token returns the token for contactID of mailingID.
func (u *Unsubscribes) Token(mailingID, contactID int64) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(mailingID))
	b = binary.BigEndian.AppendUint64(b, uint64(contactID))
	return base64.RawURLEncoding.EncodeToString(append(b, u.mac(b)...))
}

// URL returns the link for contactID of mailingID.
func (u *Unsubscribes) URL(mailingID, contactID int64) string {
	return u.BaseURL + "/unsubscribe/" + u.Token(mailingID, contactID)
}

func (u *Unsubscribes) mac(b []byte) []byte {
	h := hmac.New(sha256.New, u.Key)
	h.Write([]byte("moroz unsubscribe\x00"))
	h.Write(b)
	return h.Sum(nil)[:16]
}

// Parse checks token and returns the mailing and contact it names.
func (u *Unsubscribes) Parse(token string) (mailingID, contactID int64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 32 || !hmac.Equal(b[16:], u.mac(b[:16])) {
		return 0, 0, ErrBadToken
	}
	return int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:])), nil
}

// Unsubscribe marks the contact a token names; once marked, a second
// call changes nothing.
func (u *Unsubscribes) Unsubscribe(ctx context.Context, token string) error {
	mailingID, contactID, err := u.Parse(token)
	if err != nil {
		return err
	}
	c, err := u.Store.Contact(ctx, contactID)
	if err != nil {
		return fmt.Errorf("unsubscribe contact %d: %w", contactID, err)
	}
	if Unsubscribed(c) {
		return nil
	}
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	c.Fields[UnsubscribedField] = now().UTC().Format(time.RFC3339)
	if err := u.Store.UpdateContact(ctx, c); err != nil {
		return fmt.Errorf("unsubscribe contact %d: %w", contactID, err)
	}
	u.Logger.Info("contact unsubscribed", "contact_id", contactID, "mailing_id", mailingID)
	return nil
}

// Routes returns the handlers to mount on the HTTP listener. GET shows a
// page with a button, so a link scanner that follows the link unsubscribes
// no one; POST unsubscribes, which is also what a mail client's one-click
// unsubscribe sends (RFC 8058 §3.2: a POST with the body
// "List-Unsubscribe=One-Click").
func (u *Unsubscribes) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /unsubscribe/{token}":  http.HandlerFunc(u.confirm),
		"POST /unsubscribe/{token}": http.HandlerFunc(u.post),
	}
}

var unsubscribePage = template.Must(template.New("u").Parse(`<!doctype html>
<html lang="ru"><meta charset="utf-8"><title>Отписка</title>
<body>{{if .Done}}<p>Вы отписаны от рассылок. / You are unsubscribed.</p>
{{else if .Bad}}<p>Ссылка недействительна. / This link is not valid.</p>
{{else}}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<p><button type="submit">Отписаться от рассылок / Unsubscribe</button></p></form>{{end}}</body></html>
`))

type pageData struct{ Done, Bad bool }

func (u *Unsubscribes) confirm(w http.ResponseWriter, r *http.Request) {
	if _, _, err := u.Parse(r.PathValue("token")); err != nil {
		u.page(w, http.StatusNotFound, pageData{Bad: true})
		return
	}
	u.page(w, http.StatusOK, pageData{})
}

func (u *Unsubscribes) post(w http.ResponseWriter, r *http.Request) {
	err := u.Unsubscribe(r.Context(), r.PathValue("token"))
	switch {
	case errors.Is(err, ErrBadToken) || errors.Is(err, store.ErrNotFound):
		u.page(w, http.StatusNotFound, pageData{Bad: true})
	case err != nil:
		u.Logger.Warn("unsubscribe failed", "err", err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
	default:
		u.page(w, http.StatusOK, pageData{Done: true})
	}
}

func (u *Unsubscribes) page(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	w.WriteHeader(status)
	_ = unsubscribePage.Execute(w, d)
}
