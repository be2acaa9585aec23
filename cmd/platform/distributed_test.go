package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/cmd/platform"
	"github.com/jackc/pgx/v5"
)

// client drives one API server in tests.
type client struct {
	t   *testing.T
	url string
}

func (c client) call(method, path, token string, body any) (int, map[string]any) {
	c.t.Helper()
	status, out, _ := c.callWith(method, path, token, body, nil)
	return status, out
}

func (c client) callWith(method, path, token string, body any, header http.Header) (int, map[string]any, http.Header) {
	c.t.Helper()
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest(method, c.url+"/api/v1"+path, &buf)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func (c client) must(want int, method, path, token string, body any) map[string]any {
	c.t.Helper()
	status, out := c.call(method, path, token, body)
	if status != want {
		c.t.Fatalf("%s %s: %d %v, want %d", method, path, status, out, want)
	}
	return out
}

func (c client) login(email, password string) string {
	c.t.Helper()
	return c.must(200, "POST", "/auth/login", "", map[string]string{"email": email, "password": password})["access_token"].(string)
}

// eventually polls until check passes or fails the test after 20s.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, state := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened (last state: %s)", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The distributed mode in process: PostgreSQL event store, Kafka (kfake)
// bus, PostgreSQL read models, and the roles split over two platforms —
// one serves the API only, the other relays, projects, grades and
// schedules. What the API appends reaches the read models only through
// Kafka and the projector's consumer groups.
func TestDistributedRolesMeetThroughKafkaAndPostgres(t *testing.T) {
	t.Run("student documents rendered from PostgreSQL", func(t *testing.T) { testDistributed(t, "") })
	t.Run("student documents cached in Redis", func(t *testing.T) { testDistributed(t, redisURL(t)) })
}

func redisURL(t *testing.T) string {
	url := os.Getenv("EXAM_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	conn, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0"), time.Second)
	if err != nil {
		t.Fatalf("Redis is required at %s (scripts/ensure-redis.sh): %v", url, err)
	}
	_ = conn.Close()
	return url
}

func testDistributed(t *testing.T, redisURL string) {
	ctx := context.Background()
	config, open := distributedStack(t, "dist", redisURL)
	reads := config(platform.RoleProjector).ReadModelPostgresSchema
	conn, err := pgx.Connect(ctx, postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	apiOnly := open(platform.RoleAPI)
	otherAPI := open(platform.RoleAPI)
	workers := open(platform.RoleRelay, platform.RoleProjector, platform.RoleGrader, platform.RoleScheduler)
	if workers.Handler != nil {
		t.Fatal("a process without the api role serves HTTP")
	}
	srv := httptest.NewServer(apiOnly.Handler)
	t.Cleanup(srv.Close)
	c := client{t: t, url: srv.URL}

	admin := c.login("admin@school.test", "admin-pass-1")
	level := c.must(201, "POST", "/levels", admin, map[string]string{"name": "Year 9"})["id"].(string)
	eventually(t, "the level reaches the PostgreSQL catalogue", func() (bool, string) {
		status, list := c.call("GET", "/levels", admin, nil)
		return status == 200 && strings.Contains(fmt.Sprint(list["items"]), level), fmt.Sprint(status, list)
	})
	c.must(201, "POST", "/users", admin, map[string]any{"email": "doc@school.test", "password": "doctor-pass-1", "full_name": "Dr. Amal", "role": "doctor", "subject": "Biology"})
	c.must(201, "POST", "/users", admin, map[string]any{"email": "s1@school.test", "password": "student-pass-1", "full_name": "Student One", "role": "student", "level_id": level, "id_number": "1"})
	eventually(t, "users reach the PostgreSQL user directory", func() (bool, string) {
		status, list := c.call("GET", "/users?q=school.test", admin, nil)
		return status == 200 && len(list["items"].([]any)) == 3, fmt.Sprint(status, list)
	})

	doctor := c.login("doc@school.test", "doctor-pass-1")

	// Question images live in the read-model database: uploaded through one
	// replica, served by another.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "cell.png")
	_, _ = fw.Write(png)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/images", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+doctor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var image map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&image)
	_ = resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %v", resp.StatusCode, image)
	}
	other := httptest.NewServer(otherAPI.Handler)
	t.Cleanup(other.Close)
	req, _ = http.NewRequest("GET", other.URL+"/api/v1/images/"+image["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+doctor)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, png) {
		t.Fatalf("image from the other replica: %d, %d bytes", resp.StatusCode, len(got))
	}
	exam := c.must(201, "POST", "/exams", doctor, map[string]any{"title": "Cells", "level_id": level, "questions": []map[string]any{
		{"id": "q1", "text": "Powerhouse?", "kind": "single", "choices": []map[string]string{{"text": "Nucleus"}, {"text": "Mitochondrion"}}, "correct": []string{"b"}, "points": 2},
		{"id": "q2", "text": "Walls?", "kind": "true_false", "correct": []string{"true"}},
	}})["id"].(string)
	c.must(200, "POST", "/exams/"+exam+"/publish", doctor, nil)

	student := c.login("s1@school.test", "student-pass-1")
	eventually(t, "the student sees the published exam without keys", func() (bool, string) {
		status, view := c.call("GET", "/exams/"+exam, student, nil)
		return status == 200 && view["status"] == "open" && !strings.Contains(fmt.Sprint(view["questions"]), "correct"), fmt.Sprint(status, view)
	})
	c.must(200, "PUT", "/exams/"+exam+"/answers/q1", student, map[string]any{"choices": []string{"a"}})
	c.must(200, "PUT", "/exams/"+exam+"/answers/q1", student, map[string]any{"choices": []string{"b"}})
	c.must(200, "PUT", "/exams/"+exam+"/answers/q2", student, map[string]any{"choices": []string{"false"}})
	c.must(202, "POST", "/exams/"+exam+"/close", doctor, nil)

	eventually(t, "the grader role grades and the results reach PostgreSQL", func() (bool, string) {
		status, res := c.call("GET", "/exams/"+exam+"/results", doctor, nil)
		items, _ := res["items"].([]any)
		if status != 200 || len(items) != 1 {
			return false, fmt.Sprint(status, res)
		}
		row := items[0].(map[string]any)
		return row["score"] == 2.0 && row["max_score"] == 3.0, fmt.Sprint(row)
	})
	eventually(t, "the student's cached exam shows keys once graded", func() (bool, string) {
		status, view := c.call("GET", "/exams/"+exam, student, nil)
		return status == 200 && view["status"] == "graded" && strings.Contains(fmt.Sprint(view["questions"]), "correct"), fmt.Sprint(status, view)
	})

	// Read-your-writes across the bus: a read carrying the position a
	// command returned waits for the relay and every projector to pass it.
	for i := range 5 {
		status, user, h := c.callWith("POST", "/users", admin, map[string]any{"email": fmt.Sprintf("late%d@school.test", i), "password": "student-pass-1",
			"full_name": "Late", "role": "student", "level_id": level, "id_number": fmt.Sprint(100 + i)}, nil)
		if status != 201 || h.Get("X-Event-Position") == "" {
			t.Fatalf("create user: %d %v %v", status, user, h)
		}
		status, got, _ := c.callWith("GET", fmt.Sprintf("/users?q=late%d@", i), admin, nil, http.Header{"X-Min-Position": {h.Get("X-Event-Position")}})
		if items, _ := got["items"].([]any); status != 200 || len(items) != 1 {
			t.Fatalf("read after X-Min-Position: %d %v", status, got)
		}
	}

	// examd rebuild: damaged read models, emptied and replayed from the log,
	// come back the same.
	_, before := c.call("GET", "/exams/"+exam+"/results", doctor, nil)
	if _, err := conn.Exec(ctx, "DELETE FROM "+reads+".rm_results"); err != nil {
		t.Fatal(err)
	}
	n, err := platform.RebuildReadModels(ctx, config(platform.RoleProjector), nil)
	if err != nil || n == 0 {
		t.Fatalf("rebuild: %d events, %v", n, err)
	}
	_, after := c.call("GET", "/exams/"+exam+"/results", doctor, nil)
	if fmt.Sprint(before) != fmt.Sprint(after) || len(after["items"].([]any)) != 1 {
		t.Fatalf("results after rebuild %v, before %v", after, before)
	}

	// The projectors kept their Kafka offsets in the read-model database.
	var offsets int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+reads+".rm_offsets").Scan(&offsets); err != nil {
		t.Fatal(err)
	}
	if offsets == 0 {
		t.Fatal("no projector offsets recorded")
	}
}
