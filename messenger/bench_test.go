package messenger

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkFormPost measures letters taken through the form handler into
// the real SQLite store and work service, each answered only once stored.
func BenchmarkFormPost(b *testing.B) {
	e := newEnv(b, func(o *Options) { o.Config.RatePerMinute, o.Config.RateBurst = 1<<30, 1<<30 })
	h := e.m.Routes()["POST /api/v1/forms/{form}"]
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/forms/{form}", h)
	body := `{"name":"Оля","age":7,"city":"Гомель","wish":"Хочу санки и коньки","email":"olya@example.org"}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", "/api/v1/forms/letter", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			if rec.Code != http.StatusCreated {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}
