package messenger

// Telegram's servers cannot be reached from tests: this runs against
// telegramtest, a fake Bot API server that follows the published Bot API.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/messenger/botapi"
	"github.com/morozhq/moroz/store"
)

// session logs a new user of role in and returns their cookie header.
func (e *env) session(t *testing.T, login string, role store.Role) (store.User, map[string]string) {
	t.Helper()
	ctx := context.Background()
	u, err := e.st.CreateUser(ctx, store.User{Login: login, Name: login, Role: role, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	secret := "session-of-" + login
	now := e.clock.now()
	if err := e.st.CreateSession(ctx, store.Session{Hash: digest(secret), UserID: u.ID, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return u, map[string]string{"Cookie": consoleCookie + "=" + secret}
}

func TestAttachmentsOnlyForSupervisorsAndTheItemsHelper(t *testing.T) {
	ctx := context.Background()
	e, fake := tgEnv(t, false)
	fake.AddFile("photo-1", "photos/file_1.jpg", []byte("\xff\xd8 a jpeg"))
	e.deliver(t, tgSecret, tgUpdate(1, 1, "позовите оператора"))
	photo := tgUpdate(2, 2, "")
	photo.Message.Photo = []botapi.PhotoSize{{FileID: "photo-1", FileUniqueID: "p1"}}
	if got := e.deliver(t, tgSecret, photo); got != http.StatusOK {
		t.Fatalf("photo: status %d", got)
	}
	items := e.items(t, acd.Telegram)
	if len(items) != 1 {
		t.Fatalf("%d items, want one", len(items))
	}
	it := items[0]
	msgs := e.messages(t, it.ID)
	path := "/messenger/attachments/" + itoa(it.ID) + "/" + itoa(msgs[len(msgs)-1].ID) + "/0"

	elf, asElf := e.session(t, "elf", store.RoleHelper)
	_, asGnome := e.session(t, "gnome", store.RoleHelper)
	_, asBoss := e.session(t, "snegurochka", store.RoleSupervisor)
	check := func(t *testing.T, who string, hdr map[string]string, want int) {
		t.Helper()
		if got, _, _ := e.do(t, "GET", path, "", "", hdr); got != want {
			t.Errorf("%s: status %d, want %d", who, got, want)
		}
	}
	t.Run("queued", func(t *testing.T) {
		check(t, "elf", asElf, http.StatusForbidden)
		check(t, "supervisor", asBoss, http.StatusOK)
	})

	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, acd.EventOffered, it.ID)
	t.Run("offered to elf", func(t *testing.T) {
		check(t, "elf", asElf, http.StatusOK)
		check(t, "gnome", asGnome, http.StatusForbidden)
	})
	if err := e.work.Accept(ctx, it.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("elf's", func(t *testing.T) {
		check(t, "elf", asElf, http.StatusOK)
		check(t, "gnome", asGnome, http.StatusForbidden)
		check(t, "supervisor", asBoss, http.StatusOK)
	})
}
