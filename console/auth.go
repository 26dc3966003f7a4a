package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/morozhq/moroz/store"
)

// argon2id parameters (RFC 9106 §4, the second recommended option, with
// less memory so that a small node can take a burst of logins).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
	argonSaltLen = 16
)

// TokenPrefix starts every API token, so that a leaked one is recognisable.
const TokenPrefix = "mz_"

// HashPassword returns the encoded argon2id hash of password.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the encoded hash.
func CheckPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a login names no account, so that an
// unknown login costs as much time as a wrong password.
var dummyHash, _ = HashPassword("moroz-no-such-user")

// newSecret returns a random URL-safe secret of n bytes.
func newSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func digest(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// CreateToken makes an API token with role and name, stores its digest and
// returns the secret, which is shown once and never stored.
func CreateToken(ctx context.Context, users store.Users, role store.Role, name string) (string, error) {
	if !role.Valid() {
		return "", fmt.Errorf("create token %q: unknown role %q", name, role)
	}
	if name == "" {
		return "", errors.New("create token: empty name")
	}
	secret := TokenPrefix + newSecret(32)
	if _, err := users.CreateToken(ctx, store.Token{Name: name, Role: role, Hash: digest(secret)}); err != nil {
		return "", fmt.Errorf("create token %q: %w", name, err)
	}
	return secret, nil
}

// AddUser creates a user with a hashed password.
func AddUser(ctx context.Context, users store.Users, login, name string, role store.Role, password string) (store.User, error) {
	if err := checkLogin(login); err != nil {
		return store.User{}, err
	}
	if !role.Valid() {
		return store.User{}, fmt.Errorf("add user %q: unknown role %q (want helper, supervisor or admin)", login, role)
	}
	if len(password) < 8 {
		return store.User{}, fmt.Errorf("add user %q: password shorter than 8 characters", login)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return store.User{}, err
	}
	if name == "" {
		name = login
	}
	u, err := users.CreateUser(ctx, store.User{Login: login, Name: name, Role: role, PasswordHash: hash, Lang: "ru"})
	if err != nil {
		return store.User{}, fmt.Errorf("add user %q: %w", login, err)
	}
	return u, nil
}

func checkLogin(login string) error {
	if login == "" || len(login) > 64 {
		return fmt.Errorf("login %q: want 1 to 64 characters", login)
	}
	for _, r := range login {
		ok := r == '.' || r == '-' || r == '_' || r == '@' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("login %q: only letters, digits and . - _ @", login)
		}
	}
	return nil
}

// EnsureAdmin creates the first admin account when the store has no users,
// and returns its login and one-time password; it returns empty strings
// when users exist.
func EnsureAdmin(ctx context.Context, users store.Users) (login, password string, err error) {
	n, err := users.CountUsers(ctx)
	if err != nil {
		return "", "", fmt.Errorf("first admin: %w", err)
	}
	if n > 0 {
		return "", "", nil
	}
	password = newSecret(12)
	if _, err := AddUser(ctx, users, "admin", "Administrator", store.RoleAdmin, password); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", "", nil // another node made it first
		}
		return "", "", err
	}
	return "admin", password, nil
}
