package mail

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// maxReportBytes bounds the delivery-status and original-header parts
// read from a report.
const maxReportBytes = 64 << 10

// DeliveryReport is what a delivery status notification (RFC 3464) says:
// which letter could not be delivered, to whom and why.
type DeliveryReport struct {
	// OriginalMessageID is the Message-ID of the letter the report is
	// about, from its returned headers; empty when they were not returned.
	OriginalMessageID string            `json:"original_message_id,omitempty"`
	Recipients        []ReportRecipient `json:"recipients,omitempty"`
}

// ReportRecipient is one per-recipient block of a delivery status.
type ReportRecipient struct {
	Addr       string `json:"addr"`                 // Final-Recipient, without the "rfc822;" type
	Action     string `json:"action"`               // failed, delayed, delivered, relayed, expanded (lower-case)
	Status     string `json:"status"`               // the RFC 3463 code, e.g. "5.1.1"
	Diagnostic string `json:"diagnostic,omitempty"` // Diagnostic-Code, as given
}

// Failed reports whether the report says a letter was not delivered to at
// least one recipient.
func (r *DeliveryReport) Failed() bool {
	for _, rc := range r.Recipients {
		if rc.Action == "failed" {
			return true
		}
	}
	return false
}

// reportPart reads the machine-readable parts of a delivery report. It
// returns done for a part it consumed.
func (w *walker) reportPart(e *message.Entity, mt string) (done bool, err error) {
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		b, _ := io.ReadAll(io.LimitReader(e.Body, maxReportBytes))
		w.report().Recipients = parseDeliveryStatus(b)
		return true, nil
	case "text/rfc822-headers", "message/rfc822", "message/global-headers":
		h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(e.Body, maxReportBytes)))
		if err != nil && h.Len() == 0 {
			w.problem("report: returned headers: %v", err)
			return true, nil
		}
		w.report().OriginalMessageID = first(msgIDs(h.Get("Message-Id")))
		return true, nil
	}
	return false, nil
}

func (w *walker) report() *DeliveryReport {
	if w.l.Report == nil {
		w.l.Report = &DeliveryReport{}
	}
	return w.l.Report
}

// parseDeliveryStatus reads the per-recipient blocks of an RFC 3464
// delivery-status body: header blocks separated by blank lines, the first
// being about the message.
func parseDeliveryStatus(b []byte) []ReportRecipient {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	var out []ReportRecipient
	for i, block := range strings.Split(string(b), "\n\n") {
		h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(strings.TrimSpace(block) + "\n\n")))
		if err != nil || i == 0 && !h.Has("Final-Recipient") {
			continue
		}
		if !h.Has("Final-Recipient") && !h.Has("Original-Recipient") {
			continue
		}
		out = append(out, ReportRecipient{
			Addr:       clean(addrOfType(or(h.Get("Final-Recipient"), h.Get("Original-Recipient")))),
			Action:     token(h.Get("Action")),
			Status:     token(h.Get("Status")),
			Diagnostic: clean(strings.TrimSpace(h.Get("Diagnostic-Code"))),
		})
	}
	return out
}

// addrOfType strips the address type of an RFC 3464 recipient field:
// "rfc822; kid@example.org" is "kid@example.org".
func addrOfType(v string) string {
	if _, addr, ok := strings.Cut(v, ";"); ok {
		v = addr
	}
	return strings.Trim(strings.TrimSpace(v), "<>")
}
