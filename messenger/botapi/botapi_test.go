package botapi

// Telegram's servers cannot be reached from tests: these run against
// telegramtest, a fake that follows the published Bot API.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/messenger/telegramtest"
)

const token = "42:secret-token"

func client(t *testing.T) (*Client, *telegramtest.Server, *httptest.Server) {
	t.Helper()
	fake := telegramtest.New(token)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return New(srv.URL+"/", token, srv.Client()), fake, srv
}

func TestFloodControlIsAnAPIError(t *testing.T) {
	c, fake, _ := client(t)
	fake.Flood(1, 7)
	err := c.SendMessage(context.Background(), 1, "привет")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != http.StatusTooManyRequests || ae.RetryAfter != 7*time.Second {
		t.Fatalf("error %v, want an APIError 429 with retry_after 7s", err)
	}
	if err := c.SendMessage(context.Background(), 1, "привет"); err != nil {
		t.Errorf("second send: %v", err)
	}
}

func TestDownload(t *testing.T) {
	c, fake, _ := client(t)
	fake.AddFile("f1", "voice/file_1.oga", []byte("OggS 12345"))
	tests := []struct {
		name    string
		id      string
		limit   int64
		want    string
		wantErr string
	}{
		{"fits", "f1", 100, "OggS 12345", ""},
		{"exactly the limit", "f1", 10, "OggS 12345", ""},
		{"too large", "f1", 9, "", "larger than the attachment limit"},
		{"unknown file", "nope", 100, "", "invalid file_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			_, err := c.Download(context.Background(), tt.id, tt.limit, &b)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || b.String() != tt.want {
				t.Errorf("got %q, %v; want %q", b.String(), err, tt.want)
			}
		})
	}
}

func TestErrorsDoNotShowTheToken(t *testing.T) {
	c, _, srv := client(t)
	srv.Close() // every call now fails with the URL in the error
	err := c.SendMessage(context.Background(), 1, "x")
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error %v: want one without the token", err)
	}
}
