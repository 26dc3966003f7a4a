package store

import (
	"context"
	"fmt"
	"time"
)

const userCols = `id, login, name, role, password_hash, lang, disabled, created_at`

func scanUser(r row) (User, error) {
	var u User
	err := r.Scan(&u.ID, &u.Login, &u.Name, &u.Role, &u.PasswordHash, &u.Lang, &u.Disabled, &u.CreatedAt)
	return u, err
}

func checkUser(u User) error {
	if u.Login == "" {
		return fmt.Errorf("empty login: %w", ErrInvalid)
	}
	if !u.Role.Valid() {
		return fmt.Errorf("role %q: %w", u.Role, ErrInvalid)
	}
	return nil
}

// CreateUser stores u with a new ID; a zero CreatedAt is now.
func (s *sqlStore) CreateUser(ctx context.Context, u User) (User, error) {
	if err := checkUser(u); err != nil {
		return User{}, fmt.Errorf("create user %q: %w", u.Login, err)
	}
	u.CreatedAt = roundTime(u.CreatedAt)
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.stamp()
	}
	err := s.write(ctx, func(q querier) error {
		return q.queryRow(ctx, `INSERT INTO users (login, name, role, password_hash, lang, disabled, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			u.Login, u.Name, u.Role, u.PasswordHash, u.Lang, u.Disabled, u.CreatedAt).Scan(&u.ID)
	})
	if err != nil {
		return User{}, s.fail(err, "create user %q", u.Login)
	}
	return u, nil
}

// User returns the user with id.
func (s *sqlStore) User(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.read().queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	return u, s.fail(err, "user %d", id)
}

// UserByLogin returns the user with login.
func (s *sqlStore) UserByLogin(ctx context.Context, login string) (User, error) {
	u, err := scanUser(s.read().queryRow(ctx, `SELECT `+userCols+` FROM users WHERE login = $1`, login))
	return u, s.fail(err, "user %q", login)
}

// ListUsers returns every user in ID order.
func (s *sqlStore) ListUsers(ctx context.Context) ([]User, error) {
	us, err := collect(scanUser)(s.read().query(ctx, `SELECT `+userCols+` FROM users ORDER BY id`))
	return us, s.fail(err, "list users")
}

// UpdateUser writes every field of u but ID and CreatedAt.
func (s *sqlStore) UpdateUser(ctx context.Context, u User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("update user %d: %w", u.ID, err)
	}
	err := s.write(ctx, func(q querier) error {
		n, err := q.exec(ctx, `UPDATE users SET login = $2, name = $3, role = $4, password_hash = $5,
			lang = $6, disabled = $7 WHERE id = $1`,
			u.ID, u.Login, u.Name, u.Role, u.PasswordHash, u.Lang, u.Disabled)
		return affected(n, err)
	})
	return s.fail(err, "update user %d", u.ID)
}

// CountUsers returns how many users exist.
func (s *sqlStore) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.read().queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, s.fail(err, "count users")
}

const tokenCols = `id, name, role, hash, created_at`

func scanToken(r row) (Token, error) {
	var t Token
	err := r.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &t.CreatedAt)
	return t, err
}

// CreateToken stores t with a new ID; a zero CreatedAt is now.
func (s *sqlStore) CreateToken(ctx context.Context, t Token) (Token, error) {
	switch {
	case t.Name == "":
		return Token{}, fmt.Errorf("create token: empty name: %w", ErrInvalid)
	case !t.Role.Valid():
		return Token{}, fmt.Errorf("create token %q: role %q: %w", t.Name, t.Role, ErrInvalid)
	case len(t.Hash) == 0:
		return Token{}, fmt.Errorf("create token %q: empty hash: %w", t.Name, ErrInvalid)
	}
	t.CreatedAt = roundTime(t.CreatedAt)
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.stamp()
	}
	err := s.write(ctx, func(q querier) error {
		return q.queryRow(ctx, `INSERT INTO tokens (name, role, hash, created_at)
			VALUES ($1, $2, $3, $4) RETURNING id`, t.Name, t.Role, t.Hash, t.CreatedAt).Scan(&t.ID)
	})
	if err != nil {
		return Token{}, s.fail(err, "create token %q", t.Name)
	}
	return t, nil
}

// TokenByHash returns the token whose secret hashes to hash.
func (s *sqlStore) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	t, err := scanToken(s.read().queryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	return t, s.fail(err, "token by hash")
}

// ListTokens returns every token in ID order.
func (s *sqlStore) ListTokens(ctx context.Context) ([]Token, error) {
	ts, err := collect(scanToken)(s.read().query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY id`))
	return ts, s.fail(err, "list tokens")
}

// DeleteToken removes the token with id.
func (s *sqlStore) DeleteToken(ctx context.Context, id int64) error {
	err := s.write(ctx, func(q querier) error {
		return affected(q.exec(ctx, `DELETE FROM tokens WHERE id = $1`, id))
	})
	return s.fail(err, "delete token %d", id)
}

// CreateSession stores sess; a zero CreatedAt is now.
func (s *sqlStore) CreateSession(ctx context.Context, sess Session) error {
	if len(sess.Hash) == 0 {
		return fmt.Errorf("create session: empty hash: %w", ErrInvalid)
	}
	sess.CreatedAt = roundTime(sess.CreatedAt)
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = s.stamp()
	}
	err := s.write(ctx, func(q querier) error {
		_, err := q.exec(ctx, `INSERT INTO sessions (hash, user_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4)`, sess.Hash, sess.UserID, sess.CreatedAt, roundTime(sess.ExpiresAt))
		return err
	})
	return s.fail(err, "create session for user %d", sess.UserID)
}

// SessionByHash returns the session with hash unless it expired by now.
func (s *sqlStore) SessionByHash(ctx context.Context, hash []byte, now time.Time) (Session, error) {
	var sess Session
	err := s.read().queryRow(ctx, `SELECT hash, user_id, created_at, expires_at FROM sessions
		WHERE hash = $1 AND expires_at > $2`, hash, roundTime(now)).
		Scan(&sess.Hash, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt)
	return sess, s.fail(err, "session by hash")
}

// DeleteSession removes the session with hash; an unknown one is no error.
func (s *sqlStore) DeleteSession(ctx context.Context, hash []byte) error {
	err := s.write(ctx, func(q querier) error {
		_, err := q.exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
		return err
	})
	return s.fail(err, "delete session")
}

// DeleteUserSessions removes every session of userID.
func (s *sqlStore) DeleteUserSessions(ctx context.Context, userID int64) error {
	err := s.write(ctx, func(q querier) error {
		_, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		return err
	})
	return s.fail(err, "delete sessions of user %d", userID)
}

// affected turns an exec that touched no row into ErrNotFound.
func affected(n int64, err error) error {
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}
