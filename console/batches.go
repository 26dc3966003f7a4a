package console

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// batchJSON is a group of open letters that ask the same thing.
type batchJSON struct {
	Key     string  `json:"key"`   // what they share: "wish:санки" or "subject:санки хочу"
	Count   int     `json:"count"` // len(ItemIDs)
	ItemIDs []int64 `json:"item_ids"`
}

// batchScan bounds how many open items one listing reads.
const batchScan = 5000

// listBatches answers GET /api/v1/batches: open letters and forms grouped
// by batchKey, groups of two or more, the largest first.
func (s *Server) listBatches(w http.ResponseWriter, r *http.Request, p Principal) {
	groups := map[string][]int64{}
	for _, ch := range []acd.Channel{acd.Email, acd.Form} {
		f := store.ItemFilter{Channel: ch, Open: true, Limit: 1000}
		for n := 0; n < batchScan; n += f.Limit {
			items, err := s.opt.Store.ListItems(r.Context(), f)
			if err != nil {
				s.storeError(w, "list batches", err)
				return
			}
			for _, it := range items {
				if k := batchKey(it); k != "" {
					groups[k] = append(groups[k], it.ID)
				}
			}
			if len(items) < f.Limit {
				break
			}
			f.AfterID = items[len(items)-1].ID
		}
	}
	out := []batchJSON{}
	for k, ids := range groups {
		if len(ids) > 1 {
			out = append(out, batchJSON{Key: k, Count: len(ids), ItemIDs: ids})
		}
	}
	sortBatches(out)
	writeJSON(w, http.StatusOK, map[string]any{"batches": out})
}

// batchKey is what makes two letters alike, chosen to be explainable: the
// wish a form asked for, normalised, when there is one; else the set of
// the subject's words of three letters or more, lower-cased, without
// "Re:"/"Fwd:" and in sorted order, so "Хочу санки!" and "санки хочу"
// match. An item with neither has no key.
func batchKey(it store.Item) string {
	var d struct {
		Wish   string            `json:"wish"`
		Fields map[string]string `json:"fields"`
	}
	if len(it.Data) > 0 {
		_ = json.Unmarshal(it.Data, &d) // data of another shape has no wish
	}
	wish := d.Wish
	if wish == "" {
		wish = d.Fields["wish"]
	}
	if ws := words(wish); ws != "" {
		return "wish:" + ws
	}
	if ws := words(it.Subject); ws != "" {
		return "subject:" + ws
	}
	return ""
}

// words returns the distinct words of s of three letters or more, lower
// case, sorted and joined by spaces; reply prefixes are dropped.
func words(s string) string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len([]rune(w)) < 3 || seen[w] || w == "fwd" || w == "fw" {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	sortStrings(out)
	return strings.Join(out, " ")
}
