// Package botapi is a small client of the Telegram Bot API
// (https://core.telegram.org/bots/api): the types and methods Moroz uses,
// with their JSON names. It knows nothing of items or queues.
package botapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Update is an incoming update; Moroz reads messages only.
type Update struct {
	UpdateID int64    `json:"update_id"`
	Message  *Message `json:"message,omitempty"`
}

// Message is a Telegram message.
type Message struct {
	MessageID int64       `json:"message_id"`
	From      *User       `json:"from,omitempty"`
	Chat      Chat        `json:"chat"`
	Date      int64       `json:"date"`
	Text      string      `json:"text,omitempty"`
	Caption   string      `json:"caption,omitempty"`
	Photo     []PhotoSize `json:"photo,omitempty"`
	Voice     *Voice      `json:"voice,omitempty"`
}

// User is a Telegram user or bot.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// Chat is the chat a message belongs to.
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Voice is a voice note (OGG/Opus).
type Voice struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Duration     int    `json:"duration"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// File is what getFile returns: where to download a file from.
type File struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileSize     int64  `json:"file_size,omitempty"`
	FilePath     string `json:"file_path,omitempty"`
}

// apiResponse is every Bot API answer.
type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters,omitempty"`
}

// APIError is a Bot API call that answered ok false.
type APIError struct {
	Method     string
	Code       int
	Message    string
	RetryAfter time.Duration // set on 429 (flood control)
}

func (e *APIError) Error() string {
	return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Message)
}

// Client calls the Bot API of one bot. It is safe for concurrent use.
type Client struct {
	base   string // API base URL, no trailing slash
	token  string
	client *http.Client
}

// New returns a client for the bot with token at the API base URL (such
// as https://api.telegram.org), calling it with hc.
func New(base, token string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, client: hc}
}

// call posts params as JSON to method and decodes the result into out.
func (b *Client) call(ctx context.Context, method string, params, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/bot"+b.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, redact(err, b.token))
	}
	defer resp.Body.Close()
	var ar apiResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&ar); err != nil {
		return fmt.Errorf("telegram %s: status %d: %w", method, resp.StatusCode, err)
	}
	if !ar.OK {
		e := &APIError{Method: method, Code: ar.ErrorCode, Message: ar.Description}
		if ar.Parameters != nil {
			e.RetryAfter = time.Duration(ar.Parameters.RetryAfter) * time.Second
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(ar.Result, out); err != nil {
		return fmt.Errorf("telegram %s: result: %w", method, err)
	}
	return nil
}

// GetUpdates long-polls for updates from offset on; offset confirms every
// update below it.
func (b *Client) GetUpdates(ctx context.Context, offset int64, timeout time.Duration) ([]Update, error) {
	var us []Update
	err := b.call(ctx, "getUpdates", map[string]any{"offset": offset, "timeout": int(timeout.Seconds()),
		"allowed_updates": []string{"message"}}, &us)
	return us, err
}

// SendMessage sends a text message to a chat.
func (b *Client) SendMessage(ctx context.Context, chat int64, text string) error {
	return b.call(ctx, "sendMessage", map[string]any{"chat_id": chat, "text": text}, nil)
}

// Download fetches a file by id (getFile, then /file/bot<token>/<path>)
// into w; a file longer than limit bytes is ErrTooLarge.
func (b *Client) Download(ctx context.Context, fileID string, limit int64, w io.Writer) (File, error) {
	var f File
	if err := b.call(ctx, "getFile", map[string]any{"file_id": fileID}, &f); err != nil {
		return f, err
	}
	if f.FilePath == "" {
		return f, fmt.Errorf("telegram getFile %s: no file_path", fileID)
	}
	u := b.base + "/file/bot" + b.token + "/" + (&url.URL{Path: f.FilePath}).EscapedPath()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return f, fmt.Errorf("telegram file %s: %w", fileID, err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return f, fmt.Errorf("telegram file %s: %w", fileID, redact(err, b.token))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return f, fmt.Errorf("telegram file %s: status %d", fileID, resp.StatusCode)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return f, fmt.Errorf("telegram file %s: %w", fileID, err)
	}
	if n > limit {
		return f, fmt.Errorf("telegram file %s: %w", fileID, ErrTooLarge)
	}
	return f, nil
}

var // ErrTooLarge is a file longer than the limit given to Download.
ErrTooLarge = errors.New("larger than the attachment limit")

// redact keeps the bot's token out of errors that quote the URL.
func redact(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "<token>"))
}

// Webhook is what setWebhook takes: where Telegram posts updates, and the
// secret_token it sends back in the X-Telegram-Bot-Api-Secret-Token header
// (1 to 256 characters of A-Z, a-z, 0-9, _ and -).
type Webhook struct {
	URL            string   `json:"url"` // HTTPS; empty removes the webhook
	SecretToken    string   `json:"secret_token,omitempty"`
	AllowedUpdates []string `json:"allowed_updates,omitempty"`
	MaxConnections int      `json:"max_connections,omitempty"` // 1 to 100; 0 means Telegram's 40
	DropPending    bool     `json:"drop_pending_updates,omitempty"`
}

// WebhookInfo is what getWebhookInfo returns.
type WebhookInfo struct {
	URL                string   `json:"url"`
	PendingUpdateCount int      `json:"pending_update_count"`
	LastErrorDate      int64    `json:"last_error_date,omitempty"`
	LastErrorMessage   string   `json:"last_error_message,omitempty"`
	MaxConnections     int      `json:"max_connections,omitempty"`
	AllowedUpdates     []string `json:"allowed_updates,omitempty"`
}

// SetWebhook makes Telegram post the bot's updates to wh.URL; getUpdates
// then fails with 409 until DeleteWebhook.
func (b *Client) SetWebhook(ctx context.Context, wh Webhook) error {
	var ok bool
	if err := b.call(ctx, "setWebhook", wh, &ok); err != nil {
		return err
	}
	if !ok {
		return errors.New("telegram setWebhook: result false")
	}
	return nil
}

// DeleteWebhook removes the webhook, so that getUpdates works again;
// dropPending discards the updates Telegram holds.
func (b *Client) DeleteWebhook(ctx context.Context, dropPending bool) error {
	return b.call(ctx, "deleteWebhook", map[string]any{"drop_pending_updates": dropPending}, nil)
}

// GetWebhookInfo returns the webhook Telegram has for the bot; an empty
// URL means none (the bot polls).
func (b *Client) GetWebhookInfo(ctx context.Context) (WebhookInfo, error) {
	var wi WebhookInfo
	err := b.call(ctx, "getWebhookInfo", map[string]any{}, &wi)
	return wi, err
}

// SendChatAction shows the bot's action (such as "typing") in a chat for
// about five seconds, or until the bot's next message.
func (b *Client) SendChatAction(ctx context.Context, chat int64, action string) error {
	return b.call(ctx, "sendChatAction", map[string]any{"chat_id": chat, "action": action}, nil)
}
