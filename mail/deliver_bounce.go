package mail

import (
	"context"
	"maps"
	"time"

	"github.com/morozhq/moroz/store"
)

// Contact fields a failed delivery report sets on the recipient's contact,
// so the console can show that the address does not take mail.
const (
	bouncedAtField     = "mail.bounced_at"     // RFC 3339
	bounceStatusField  = "mail.bounce_status"  // RFC 3463 code, "5.1.1"
	bounceMessageField = "mail.bounce_message" // the Message-ID that bounced
)

// markBounced records a failed delivery on each failed recipient's
// contact. Failures are logged: the report itself is stored either way.
func (s *Server) markBounced(ctx context.Context, r *DeliveryReport, itemID int64) {
	for _, rc := range r.Recipients {
		if rc.Action != "failed" || rc.Addr == "" {
			continue
		}
		id := store.Identity{Kind: "email", Value: Address{Addr: rc.Addr}.Norm()}
		c, err := s.opts.Store.ResolveContact(ctx, id, "")
		if err == nil {
			c.Fields = maps.Clone(c.Fields)
			if c.Fields == nil {
				c.Fields = map[string]string{}
			}
			c.Fields[bouncedAtField] = s.opts.Now().UTC().Format(time.RFC3339)
			c.Fields[bounceStatusField] = rc.Status
			c.Fields[bounceMessageField] = r.OriginalMessageID
			err = s.opts.Store.UpdateContact(ctx, c)
		}
		if err != nil {
			s.log.Warn("bounce not recorded on the contact", "item_id", itemID, "err", err)
		}
	}
}
